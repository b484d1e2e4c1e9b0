// The Broadcast Wave `bext` chunk (EBU Tech 3285 v2) of WAV and RF64 recordings, written
// through libsndfile's SFC_SET_BROADCAST_INFO.
import CSndfile
import CaptureCore
import Glibc

/// What a WAV or RF64 recording's `bext` chunk says. The recorder writes it with the header,
/// before the first frame, so it is in every checkpoint's header and `capdeck recover` keeps it.
///
/// `startedAt` is the wall-clock time of the file's first sample: a recording that starts with
/// audio captured earlier (a pre-roll, a part of a split take) passes that earlier time.
/// OriginationDate/Time are its local date and time; TimeReference is the samples from local
/// midnight to it, at the file's rate.
public struct BroadcastInfo: Sendable, Equatable {
    /// The wall-clock time (CLOCK_REALTIME) of the file's first sample.
    public var startedAt: timespec
    /// Description: at most `descriptionLimit` bytes; UTF-8 is kept as it is (Tech 3285 asks for
    /// ASCII; ffprobe, wavinfo and BWF MetaEdit show UTF-8), `BroadcastDescription.problem` refuses more.
    public var description: String
    /// What captured the audio (the device), for the coding history's `T=` text.
    public var source: String
    /// The program and version, in Originator (32 bytes) and the coding history.
    public var software: String
    /// OriginatorReference (32 bytes); nil: a unique one made at creation (`reference(at:)`).
    public var originatorReference: String?
    /// Samples between `startedAt` and this file's first sample: a later part of a split take
    /// keeps the take's `startedAt` and counts the frames of the parts before it here, so its
    /// TimeReference is the first part's plus those frames, exactly.
    public var sampleOffset: UInt64 = 0
    /// The coding history's lines after the first, one per route change (`routeLine`), oldest
    /// first, without their line ends. A later part of a split take carries those before it.
    public var routeHistory: [String] = []
    /// The v2 loudness fields; nil: unknown (0x7FFF), as at creation. The recorder sets them at
    /// `finish` from what it measured over the file's audio (`SndfileRecorder.loudness`).
    public var loudness: BroadcastLoudness?
    /// Whether the recorder measures the file's loudness for those fields (`--no-loudness`: no).
    public var measuresLoudness = true

    public static let descriptionLimit = BroadcastDescription.limit
    /// Bytes the coding history's own lines (the capture's and the route changes', line ends
    /// included) take in every file, whatever they hold: the chunk keeps one size from creation,
    /// so it can be rewritten at a checkpoint without moving the audio after it. libsndfile's
    /// line for its writer follows. About 30 route changes fit; later ones are left out of the
    /// history (their markers still record them).
    public static let codingHistoryCapacity = 4096
    /// The longest one line may be (line end included); a longer T= text is cut.
    public static let codingHistoryLineLimit = 256
    /// CaptureDeck's version (`capdeck --version`; Originator and the coding history name it).
    public static let captureDeckVersion = "0.1.0"

    public init(startedAt: timespec, description: String = "", source: String = "",
                software: String = "CaptureDeck \(captureDeckVersion)", originatorReference: String? = nil) {
        self.startedAt = startedAt
        self.description = description
        self.source = source
        self.software = software
        self.originatorReference = originatorReference
    }

    /// The current wall-clock time, for `startedAt`.
    public static var now: timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    public static func == (a: BroadcastInfo, b: BroadcastInfo) -> Bool {
        a.startedAt.tv_sec == b.startedAt.tv_sec && a.startedAt.tv_nsec == b.startedAt.tv_nsec
            && a.description == b.description && a.source == b.source && a.software == b.software
            && a.originatorReference == b.originatorReference && a.sampleOffset == b.sampleOffset
            && a.routeHistory == b.routeHistory
            && a.loudness == b.loudness && a.measuresLoudness == b.measuresLoudness
    }

    /// Local time of the file's first sample (`startedAt`, plus `sampleOffset` at `rate`).
    func local(rate: Int) -> tm {
        var t = startedAt.tv_sec + Int(sampleOffset / UInt64(max(1, rate)))
            + (Int(startedAt.tv_nsec) + Int(sampleOffset % UInt64(max(1, rate))) * 1_000_000_000 / max(1, rate)) / 1_000_000_000
        var out = tm()
        localtime_r(&t, &out)
        return out
    }

    /// Samples from local midnight to the first sample, at `rate`: `startedAt`'s, plus
    /// `sampleOffset` exactly.
    public func timeReference(rate: Int) -> UInt64 {
        var t = startedAt.tv_sec
        var day = tm()
        localtime_r(&t, &day)
        let seconds = UInt64(day.tm_hour) * 3600 + UInt64(day.tm_min) * 60 + UInt64(day.tm_sec)
        return seconds * UInt64(rate) + UInt64(startedAt.tv_nsec) * UInt64(rate) / 1_000_000_000 + sampleOffset
    }

    /// An EBU R99 reference: country "ZZ" (none), organisation "CDK", the 12-character serial
    /// (here the first 12 of the host name's letters and digits, upper-cased, 0-padded), the
    /// origination time HHMMSS and 9 random digits: 32 characters, unique per file in practice.
    func reference(rate: Int) -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let serial = String(host.uppercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.prefix(12))
        let t = local(rate: rate)
        return "ZZCDK" + String(repeating: "0", count: 12 - serial.count) + serial
            + pad(t.tm_hour) + pad(t.tm_min) + pad(t.tm_sec) + pad(Int.random(in: 0..<1_000_000_000), 9)
    }

    private func pad<I: BinaryInteger>(_ v: I, _ n: Int = 2) -> String {
        let s = String(v)
        return String(repeating: "0", count: Swift.max(0, n - s.count)) + s
    }

    /// The coding history's own lines for libsndfile, always `codingHistoryCapacity` bytes: the
    /// capture's (Tech 3285's `A=,F=,W=,M=,T=` form), then one per route change, the last one
    /// padded with spaces (libsndfile copies the history as a C string, so padding can't be NUL;
    /// `BextHistory.tidy` makes the padding NULs in the file after each header write).
    func codingHistory(format: StreamFormat, fileFormat: FileSampleFormat) -> String {
        let lines = [firstLine(format: format, fileFormat: fileFormat)] + routeHistory
        let text = lines.joined(separator: "\r\n")
        let pad = Swift.max(0, Self.codingHistoryCapacity - 2 - text.utf8.count)
        return text + String(repeating: " ", count: pad) + "\r\n"
    }

    /// The capture's line: the file's format, the program and the device (`source`).
    func firstLine(format: StreamFormat, fileFormat: FileSampleFormat) -> String {
        // float: W=24, the mantissa, as libsndfile's line
        Self.line(format: StreamFormat(sampleFormat: fileFormat.sampleFormat, sampleRate: format.sampleRate, channels: format.channels),
                  text: ([software] + (source.isEmpty ? [] : [source])).joined(separator: "; "))
    }

    /// A coding-history line (no line end) in Tech 3285's form, at most `codingHistoryLineLimit`
    /// bytes with its line end: the T= text has no commas, line breaks or NULs (each becomes a
    /// space), no trailing spaces, and is cut at a character to fit.
    static func line(format: StreamFormat, text: String) -> String {
        let mode = format.channels == 1 ? "mono" : format.channels == 2 ? "stereo" : "\(format.channels)chn"
        let head = "A=PCM,F=\(format.sampleRate),W=\(format.sampleFormat.bitDepth),M=\(mode),T="
        var t = String(text.map { $0 == "," || $0.isNewline || $0 == "\0" ? " " : $0 })
        let room = codingHistoryLineLimit - 2 - head.utf8.count
        while t.utf8.count > room { t.removeLast() }
        while t.last == " " { t.removeLast() }
        return head + t
    }

    /// The line for a change to `note`'s route at frame `frame` of this file (rate `rate`): the
    /// route's device, kind and format, and the time of day of that frame on the file's own
    /// timeline (TimeReference + frame, so it agrees with the cue marker's position), e.g.
    /// `A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck 0.1.0; toneB (shared route) at 12:35:08.345`.
    public func routeLine(_ note: RouteNote, atFrame frame: Int, rate: Int) -> String {
        let r = UInt64(Swift.max(1, rate))
        let at = timeReference(rate: rate) + UInt64(Swift.max(0, frame))
        let seconds = Int((at / r) % 86_400), ms = Int((at % r) * 1000 / r)
        let time = "\(pad(seconds / 3600)):\(pad(seconds / 60 % 60)):\(pad(seconds % 60)).\(pad(ms, 3))"
        return Self.line(format: note.format, text: "\(software); \(note.route.pcm) (\(note.route.kind.rawValue) route) at \(time)")
    }

    /// Adds `line` to the history if the reserve still has room for it; false when it is full.
    public mutating func addRouteLine(_ line: String, format: StreamFormat, fileFormat: FileSampleFormat) -> Bool {
        let used = ([firstLine(format: format, fileFormat: fileFormat)] + routeHistory).reduce(0) { $0 + $1.utf8.count + 2 }
        guard used + line.utf8.count + 2 <= Self.codingHistoryCapacity else { return false }
        routeHistory.append(line)
        return true
    }

    /// OriginationDate and OriginationTime: the local date (yyyy-mm-dd) and time (hh:mm:ss) of
    /// the file's first sample.
    func origination(rate: Int) -> (date: String, time: String) {
        let t = local(rate: rate)
        return ("\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday))", "\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec))")
    }

    /// The SF_BROADCAST_INFO bytes (the fixed part, then the coding history) for libsndfile.
    func sndfileBytes(format: StreamFormat, fileFormat: FileSampleFormat) -> [UInt8] {
        var info = SF_BROADCAST_INFO()
        let (date, time) = origination(rate: format.sampleRate)
        Self.copy(description, to: &info.description)
        Self.copy(software, to: &info.originator)
        Self.copy(originatorReference ?? reference(rate: format.sampleRate), to: &info.originator_reference)
        Self.copy(date, to: &info.origination_date)
        Self.copy(time, to: &info.origination_time)
        let reference = timeReference(rate: format.sampleRate)
        info.time_reference_low = UInt32(truncatingIfNeeded: reference)
        info.time_reference_high = UInt32(truncatingIfNeeded: reference >> 32)
        info.version = 2
        // Loudness fields: unknown (0x7FFF, Tech 3285 v2) until the recorder measured them.
        let l = (loudness ?? BroadcastLoudness()).fields
        info.loudness_value = l[0]; info.loudness_range = l[1]; info.max_true_peak_level = l[2]
        info.max_momentary_loudness = l[3]; info.max_shortterm_loudness = l[4]
        let history = Array(codingHistory(format: format, fileFormat: fileFormat).utf8)
        info.coding_history_size = UInt32(history.count)
        let fixed = MemoryLayout<SF_BROADCAST_INFO>.offset(of: \.coding_history)!
        return withUnsafeBytes(of: &info) { Array($0.prefix(fixed)) } + history
    }

    /// Copies `text`'s bytes into a fixed C field, cut to fit (a full field has no NUL, as
    /// Tech 3285 allows).
    private static func copy<T>(_ text: String, to field: inout T) {
        withUnsafeMutableBytes(of: &field) { out in
            for (i, b) in text.utf8.prefix(out.count).enumerated() { out[i] = b }
        }
    }

    /// Sets the chunk on a libsndfile file opened for writing. Returns nil, or libsndfile's reason.
    func apply(to file: OpaquePointer, format: StreamFormat, fileFormat: FileSampleFormat) -> String? {
        var bytes = sndfileBytes(format: format, fileFormat: fileFormat)
        let ok = bytes.withUnsafeMutableBytes {
            sf_command(file, Int32(SFC_SET_BROADCAST_INFO), $0.baseAddress, Int32($0.count))
        }
        if ok == SF_TRUE && sf_error(file) == 0 { return nil }
        return String(cString: sf_strerror(file))
    }
}

extension FileType {
    /// Whether the container holds a `bext` chunk (WAV, which grows into RF64).
    public var holdsBroadcastInfo: Bool { self == .wav }
}

/// The coding history as it stands in the file. libsndfile writes the history it was given, whose
/// reserve is padded with spaces (it takes the text as a C string), at every header write; after
/// each one the recorder rewrites just those bytes in place, same size: each line's trailing
/// spaces go and the freed bytes at the end become NULs, so readers see the lines alone. A crash
/// between the two writes leaves the padded form, which is just as valid (trailing spaces on the
/// last of CaptureDeck's lines), and `capdeck recover` keeps the chunk as it finds it.
enum BextHistory {
    /// `history` (the bytes after the chunk's 602 fixed ones) without trailing spaces on its
    /// lines and NUL-filled to its length; text after a NUL is left out.
    static func tidy(_ history: [UInt8]) -> [UInt8] {
        // One pass with memchr and memcpy (it runs after every checkpoint's header write).
        var out = [UInt8](repeating: 0, count: history.count)
        guard !history.isEmpty else { return out }
        history.withUnsafeBytes { h in
            out.withUnsafeMutableBytes { o in
                let src = h.baseAddress!, dst = o.baseAddress!
                func find(_ byte: Int32, from: Int, to: Int) -> Int? {
                    memchr(src + from, byte, to - from).map { UnsafeRawPointer($0) - src }
                }
                let end = find(0, from: 0, to: h.count) ?? h.count
                var w = 0, line = 0, i = 0
                while i < end, let cr = find(0x0D, from: i, to: end) {
                    guard cr + 1 < end && h[cr + 1] == 0x0A else { i = cr + 1; continue }  // a lone CR is text
                    var e = cr
                    while e > line && h[e - 1] == 0x20 { e -= 1 }
                    if e > line {
                        memcpy(dst + w, src + line, e - line)
                        w += e - line
                        o[w] = 0x0D; o[w + 1] = 0x0A
                        w += 2
                    }
                    line = cr + 2
                    i = line
                }
                memcpy(dst + w, src + line, end - line)  // an unterminated end stays as it is
            }
        }
        return out
    }

    /// Tidies the coding history of the WAV/RF64 file on `fd` (nothing to do without a bext chunk
    /// before the audio). Returns the errno of a read or write that failed (`.none` when done; a
    /// short write, which sets no errno, is EIO).
    static func tidy(fd: Int32) -> Errno {
        let found = RIFFHeader.chunk("bext", fd: fd, within: 32)
        guard case .success(let (pos, size)?) = found else { if case .failure(let e) = found { return e }; return .none }
        let fixed = 602
        guard size > fixed, size - fixed <= 1 << 16 else { return .none }
        var old = [UInt8](repeating: 0, count: size - fixed)
        let o = retryingInterrupts { pread(fd, &old, old.count, off_t(pos + 8 + fixed)) }
        if o.failed { return o.error }
        guard o.value == old.count else { return .none }
        let new = tidy(old)
        guard new != old else { return .none }
        return RIFFHeader.write(new, fd: fd, at: pos + 8 + fixed)
    }
}
