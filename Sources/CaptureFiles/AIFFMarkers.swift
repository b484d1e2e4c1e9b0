// Markers in an AIFF: a MARK chunk appended after the finished audio, as CueWriter does for WAV.
import CaptureCore
import Glibc

/// Appends a `MARK` chunk after a finished AIFF's sound data and fixes the FORM size.
/// (libsndfile writes a MARK chunk only for cues set before the first frame.)
enum MarkWriter {
    /// MARK's marker ids are positive 16-bit values; positions are 32-bit frame numbers.
    static let maxMarkers = Int(Int16.max)

    /// Markers a MARK chunk can hold: positions that fit 32 bits, at most 32767 of them. The rest
    /// are dropped, never wrapped.
    static func split(_ markers: [RecordingMarker]) -> (kept: [RecordingMarker], dropped: [RecordingMarker]) {
        let (fits, past) = CueWriter.split(markers)
        return (Array(fits.prefix(maxMarkers)), Array(fits.dropFirst(maxMarkers)) + past)
    }

    /// A marker name is a Pascal string: at most 255 bytes, cut at a character boundary.
    static func pascalName(_ label: String) -> [UInt8] {
        var text = Substring(label)
        while text.utf8.count > 255 { text = text.dropLast() }
        var out = [UInt8(text.utf8.count)] + Array(text.utf8)
        if out.count % 2 == 1 { out.append(0) }  // each marker's name ends on an even offset
        return out
    }

    static func chunk(_ markers: [RecordingMarker]) -> [UInt8] {
        var body = HeaderRepair.beBytes(UInt64(markers.count), 2)
        for (i, m) in markers.enumerated() {
            body += HeaderRepair.beBytes(UInt64(i + 1), 2) + HeaderRepair.beBytes(UInt64(m.frame), 4) + pascalName(m.label)
        }
        return Array("MARK".utf8) + HeaderRepair.beBytes(UInt64(body.count), 4) + body
    }

    static func append(_ markers: [RecordingMarker], toAIFF fd: Int32) -> CueWriter.AppendResult {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failed }
        let (kept, dropped) = split(markers)
        guard !kept.isEmpty else { return .appended(dropped: dropped) }
        var bytes = chunk(kept)
        let size = Int(st.st_size)
        if size % 2 == 1 { bytes.insert(0, at: 0) }  // chunks start on even offsets
        guard UInt64(size + bytes.count - 8) <= 0xFFFF_FFFF else { return .noRoom }
        guard pwrite(fd, bytes, bytes.count, off_t(size)) == bytes.count else { return .failed }
        let form = HeaderRepair.beBytes(UInt64(size + bytes.count - 8), 4)
        return pwrite(fd, form, 4, 4) == 4 ? .appended(dropped: dropped) : .failed
    }

    /// Whether the AIFF read by `read` already has a MARK chunk.
    static func hasMarkChunk(_ read: HeaderRepair.Reader) -> Bool {
        var pos = 12
        for _ in 0..<10_000 {
            let h = read(pos, 8)
            guard h.count == 8 else { return false }
            if h[0..<4].elementsEqual("MARK".utf8) { return true }
            let size = Int(HeaderRepair.be(h, 4, 4))
            pos += 8 + size + (size & 1)
        }
        return false
    }
}
