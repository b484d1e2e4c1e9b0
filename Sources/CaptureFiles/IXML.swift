// A minimal iXML chunk (iXML 2.10) for WAV and RF64 recordings that carry a bext chunk, added
// through libsndfile's sf_set_chunk.
//
// libsndfile 1.2 keeps each sf_set_chunk as one more chunk in every header it writes, and has no
// way to replace or remove one: so the chunk is set exactly once, just before the file's first
// frame, when its TimeReference is final (the bext chunk is restamped until then), and it never
// changes after that. The header, iXML included, is then the same size at every checkpoint, and
// the audio never moves.
import CSndfile
import CaptureCore

enum IXML {
    /// The chunk's text: PROJECT (the title tag, if any), NOTE (the Description), the file's
    /// sample rate and bit depth, the first sample's samples since midnight and their rate (as the
    /// bext TimeReference), and one track per channel. Padded with newlines to a multiple of 4
    /// bytes (libsndfile rounds a custom chunk's size up to that and would write past the data).
    static func text(_ info: BroadcastInfo, project: String?, format: StreamFormat, fileFormat: FileSampleFormat) -> [UInt8] {
        let rate = format.sampleRate
        let samples = info.timeReference(rate: rate)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n<IXML_VERSION>2.10</IXML_VERSION>\n"
        if let project, !project.isEmpty { x += "<PROJECT>\(escaped(project))</PROJECT>\n" }
        if !info.description.isEmpty { x += "<NOTE>\(escaped(info.description))</NOTE>\n" }
        x += "<SPEED>\n<FILE_SAMPLE_RATE>\(rate)</FILE_SAMPLE_RATE>\n"
        x += "<AUDIO_BIT_DEPTH>\(fileFormat.sampleFormat == .floatLE ? 32 : fileFormat.sampleFormat.bitDepth)</AUDIO_BIT_DEPTH>\n"
        x += "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\(samples >> 32)</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\n"
        x += "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\(samples & 0xFFFF_FFFF)</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\n"
        x += "<TIMESTAMP_SAMPLE_RATE>\(rate)</TIMESTAMP_SAMPLE_RATE>\n</SPEED>\n"
        x += "<TRACK_LIST>\n<TRACK_COUNT>\(format.channels)</TRACK_COUNT>\n"
        for c in 1...Swift.max(1, format.channels) {
            x += "<TRACK><CHANNEL_INDEX>\(c)</CHANNEL_INDEX><INTERLEAVE_INDEX>\(c)</INTERLEAVE_INDEX><NAME>Channel \(c)</NAME></TRACK>\n"
        }
        x += "</TRACK_LIST>\n</BWFXML>\n"
        var bytes = Array(x.utf8)
        while bytes.count % 4 != 0 { bytes.append(0x0A) }
        return bytes
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: if ch.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\t" || $0 == "\n" }) { out.append(ch) }
            }
        }
        return out
    }

    /// Adds the chunk to `file` (before its first frame). Returns nil, or libsndfile's reason.
    static func add(to file: OpaquePointer, _ bytes: [UInt8]) -> String? {
        var chunk = SF_CHUNK_INFO()
        withUnsafeMutableBytes(of: &chunk.id) { id in for (i, b) in "iXML".utf8.enumerated() { id[i] = b } }
        chunk.id_size = 4
        chunk.datalen = UInt32(bytes.count)
        let r = bytes.withUnsafeBytes { p -> Int32 in
            chunk.data = UnsafeMutableRawPointer(mutating: p.baseAddress)
            return sf_set_chunk(file, &chunk)  // copies the data
        }
        return r == 0 ? nil : String(cString: sf_error_number(r))
    }
}
