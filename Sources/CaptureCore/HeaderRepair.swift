// Header repair planning for recordings cut short by a crash (WAV, RF64, W64, CAF, AIFF).
//
// Pure: it reads bytes through a closure and returns the byte patches to make; CaptureFiles
// applies them. A file it cannot fully understand gets no plan, so it is never modified.

/// What `HeaderRepair.analyze` found.
public enum RepairAnalysis: Equatable, Sendable {
    /// The header already describes every whole frame in the file.
    case consistent(container: String, frames: Int)
    /// The header is stale; applying `plan` makes it describe every whole frame on disk.
    case repairable(RepairPlan)
    /// Not a file this repair understands (or it is damaged beyond the header); leave it alone.
    case notUnderstood(reason: String)
}

/// Byte-level changes that repair one file.
public struct RepairPlan: Equatable, Sendable {
    public var container: String
    public var bytesPerFrame: Int
    /// Frames the old header claimed.
    public var headerFrames: Int
    /// Whole frames of audio actually on disk.
    public var diskFrames: Int
    /// Bytes to write, at absolute offsets.
    public var patches: [Patch]
    /// New file length (drops a trailing partial frame), or nil to keep the length.
    public var truncateTo: Int?
    /// A PEAK chunk to bring up to date from the audio (after the patches), or nil.
    public var peak: PeakScan? = nil

    /// Where a float WAV's PEAK chunk's values go, and the audio they come from.
    public struct PeakScan: Equatable, Sendable {
        /// Offset of the first channel's (value, position) pair.
        public var valuesOffset: Int
        public var channels: Int
        /// 4 (float) or 8 (double).
        public var bytesPerSample: Int
        public var dataOffset: Int
        public var frames: Int
        /// AIFF-C's PEAK chunk and samples are big-endian; WAV's little-endian.
        public var bigEndian = false
    }

    public struct Patch: Equatable, Sendable {
        public var offset: Int
        public var bytes: [UInt8]
    }
}

public enum HeaderRepair {
    /// Reads `count` bytes at `offset` (fewer at end of file).
    public typealias Reader = (_ offset: Int, _ count: Int) -> [UInt8]

    public static func analyze(fileSize: Int, read: Reader) -> RepairAnalysis {
        let head = read(0, 16)
        guard head.count >= 12 else { return .notUnderstood(reason: "too short to be an audio file") }
        let magic = String(decoding: head[0..<4], as: UTF8.self)
        switch magic {
        case "RIFF", "RF64", "BW64":
            return analyzeRIFF(fileSize: fileSize, read: read, magic: magic)
        case "caff":
            return analyzeCAF(fileSize: fileSize, read: read)
        case "riff" where head.count >= 16 && Array(head[4..<16]) == w64Suffix1:
            return analyzeW64(fileSize: fileSize, read: read)
        case "FORM":
            return analyzeAIFF(fileSize: fileSize, read: read)
        case "fLaC":
            return .notUnderstood(reason: "FLAC has no header to repair; readers decode every complete frame")
        default:
            return .notUnderstood(reason: "not a WAV, RF64, W64, CAF or AIFF file")
        }
    }

    // MARK: Little/big-endian helpers

    static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(b[at + i]) }
        return v
    }
    public static func leValue(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 { le(b, at, n) }
    public static func be(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(b[at + i]) }
        return v
    }
    static func leBytes(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    public static func beBytes(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func isChunkID(_ b: [UInt8]) -> Bool {
        b.count == 4 && b.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// Whether the bytes from `start` are nothing, or whole chunks ending exactly at the end of
    /// the file. RIFF: 4-byte id + 32-bit LE size, padded to 2 (AIFF: the same, big-endian). W64:
    /// 16-byte GUID + 64-bit LE size that includes the header, padded to 8. CAF: 4-byte id +
    /// 64-bit BE size.
    static func chainReachesEnd(from start: Int, fileSize: Int, read: Reader, headerBytes: Int, pad: Int,
                                bigEndian: Bool) -> Bool {
        var pos = start
        // A RIFF data chunk of odd length is followed by one pad byte.
        if pad == 2 && pos % 2 == 1 && pos + 1 <= fileSize { pos += 1 }
        // W64 chunks start on 8-byte boundaries; a data chunk at the end needs no padding.
        if pad == 8 && (pos + 7) & ~7 <= fileSize { pos = (pos + 7) & ~7 }
        var chunks = 0
        while pos < fileSize {
            chunks += 1
            if chunks > 10_000 || pos + headerBytes > fileSize { return false }
            let h = read(pos, headerBytes)
            guard h.count == headerBytes, isChunkID(Array(h[0..<4])) else { return false }
            let size: Int
            switch headerBytes {
            case 8: size = 8 + Int(bigEndian ? be(h, 4, 4) : le(h, 4, 4))
            case 24:
                let v = le(h, 16, 8)
                guard v >= 24, v < UInt64(Int.max / 2) else { return false }
                size = Int(v)
            default:
                let v = Int64(bitPattern: be(h, 4, 8))
                guard v >= 0, v < Int64(Int.max / 2) else { return false }
                size = 12 + Int(v)
            }
            pos += size
            if pad == 2 && pos % 2 == 1 && pos < fileSize { pos += 1 }
            if pad == 8 && (pos + 7) & ~7 <= fileSize { pos = (pos + 7) & ~7 }
        }
        return pos == fileSize
    }

    // MARK: RIFF / RF64

    static func analyzeRIFF(fileSize: Int, read: Reader, magic: String) -> RepairAnalysis {
        guard String(decoding: read(8, 4), as: UTF8.self) == "WAVE" else {
            return .notUnderstood(reason: "RIFF file that is not WAVE")
        }
        var pos = 12
        var blockAlign = 0
        var channels = 0
        var isFloat = false
        var bytesPerSample = 0
        var ds64Offset: Int?
        var headerDataSize: UInt64 = 0
        var before: [RIFFChunkRef] = []  // the chunks before data, in file order
        var chunks = 0
        while pos + 8 <= fileSize {
            chunks += 1
            if chunks > 10_000 { return .notUnderstood(reason: "too many chunks") }
            let h = read(pos, 8)
            guard h.count == 8, isChunkID(Array(h[0..<4])) else {
                return .notUnderstood(reason: "damaged chunk at byte \(pos)")
            }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int(le(h, 4, 4))
            switch id {
            case "fmt ":
                // Its fields must lie inside it, and there must be one: a file otherwise is not
                // one this repair understands (found by the header fuzz target: a second, short
                // fmt chunk read its block size from the bytes after it).
                guard blockAlign == 0 else { return .notUnderstood(reason: "more than one fmt chunk") }
                let f = read(pos + 8, 16)
                guard size >= 16, f.count == 16 else { return .notUnderstood(reason: "truncated fmt chunk") }
                blockAlign = Int(le(f, 12, 2))
                guard blockAlign > 0 else { return .notUnderstood(reason: "fmt chunk with a zero block size") }
                channels = Int(le(f, 2, 2))
                bytesPerSample = Int(le(f, 14, 2)) / 8
                let tag = le(f, 0, 2)
                // EXTENSIBLE: the subformat GUID's first two bytes are the format tag.
                let sub = tag == 0xFFFE && size >= 40 ? read(pos + 8 + 24, 2) : []
                isFloat = sub.count == 2 ? le(sub, 0, 2) == 3 : tag == 3
            case "ds64":
                guard size >= 24 else { return .notUnderstood(reason: "short ds64 chunk") }
                ds64Offset = pos + 8
            case "data":
                guard blockAlign > 0 else { return .notUnderstood(reason: "data before a valid fmt chunk") }
                let dataOffset = pos + 8
                headerDataSize = UInt64(size)
                if magic != "RIFF" {
                    guard let ds64Offset else { return .notUnderstood(reason: "RF64 without ds64") }
                    let d = read(ds64Offset, 24)
                    guard d.count == 24 else { return .notUnderstood(reason: "truncated ds64") }
                    headerDataSize = le(d, 8, 8)
                }
                // A float PEAK chunk with room for every channel's (value, position).
                let peakable = isFloat && channels > 0 && (bytesPerSample == 4 || bytesPerSample == 8)
                    && channels * bytesPerSample == blockAlign
                return planRIFF(fileSize: fileSize, read: read, magic: magic, dataOffset: dataOffset,
                                headerDataSize: headerDataSize, blockAlign: blockAlign,
                                ds64Offset: ds64Offset, chunks: before, dataSizeField: pos + 4,
                                peakChannels: peakable ? channels : 0, bytesPerSample: bytesPerSample)
            default:
                break
            }
            before.append(RIFFChunkRef(id: id, offset: pos, size: size))
            pos += 8 + size + (size & 1)
        }
        return .notUnderstood(reason: "no data chunk")
    }

    static func planRIFF(fileSize: Int, read: Reader, magic: String, dataOffset: Int, headerDataSize: UInt64,
                         blockAlign: Int, ds64Offset: Int?, chunks: [RIFFChunkRef],
                         dataSizeField: Int, peakChannels: Int = 0, bytesPerSample: Int = 0) -> RepairAnalysis {
        let container = magic == "RIFF" ? "WAV" : "RF64"
        let available = fileSize - dataOffset
        let headerFrames = Int(clamping: headerDataSize) / blockAlign
        // A header that fits, followed by well-formed chunks that end exactly at the end of the
        // file (or nothing): consistent. Anything else after the claimed data is audio.
        if headerDataSize <= UInt64(available) {
            let end = dataOffset + Int(headerDataSize)
            if chainReachesEnd(from: end, fileSize: fileSize, read: read, headerBytes: 8, pad: 2, bigEndian: false) {
                return .consistent(container: container, frames: headerFrames)
            }
        }
        let diskFrames = available / blockAlign
        let dataBytes = UInt64(diskFrames * blockAlign)
        let newSize = dataOffset + Int(dataBytes)
        var patches: [RepairPlan.Patch] = []
        // The chunks that follow from the length: fact (sample count; 0xFFFFFFFF in RF64 past
        // 32 bits, ds64 holds it) and PEAK (peaks of all the audio, computed by the caller).
        let fact = chunks.first { $0.id == "fact" && $0.size >= 4 }
        var peakOffset = chunks.first { $0.id == "PEAK" && peakChannels > 0 && $0.size >= 8 + 8 * peakChannels }
            .map { $0.offset + 16 }
        if let fact, magic != "RIFF" || UInt64(newSize - 8) <= 0xFFFF_FFFF {
            patches.append(.init(offset: fact.offset + 8, bytes: leBytes(UInt64(Swift.min(diskFrames, 0xFFFF_FFFF)), 4)))
        }
        if magic == "RIFF" {
            if UInt64(newSize - 8) > 0xFFFF_FFFF {
                switch rf64Header(read: read, chunks: chunks, dataOffset: dataOffset, riffSize: UInt64(newSize - 8),
                                  dataBytes: dataBytes, frames: dataBytes / UInt64(blockAlign)) {
                case .success(let header):
                    patches.append(.init(offset: 0, bytes: header.bytes))
                    peakOffset = peakOffset == nil ? nil : header.peakOffset.map { $0 + 16 }
                case .failure(let why): return .notUnderstood(reason: "WAV data past 4 GiB: \(why.reason)")
                }
            } else {
                patches.append(.init(offset: 4, bytes: leBytes(UInt64(newSize - 8), 4)))
                patches.append(.init(offset: dataSizeField, bytes: leBytes(dataBytes, 4)))
            }
        } else {
            guard let ds = ds64Offset else { return .notUnderstood(reason: "RF64 without ds64") }
            patches.append(.init(offset: ds, bytes: leBytes(UInt64(newSize - 8), 8) + leBytes(dataBytes, 8)
                                 + leBytes(dataBytes / UInt64(blockAlign), 8)))
            patches.append(.init(offset: 4, bytes: leBytes(0xFFFF_FFFF, 4)))
            patches.append(.init(offset: dataSizeField, bytes: leBytes(0xFFFF_FFFF, 4)))
        }
        return .repairable(RepairPlan(container: container, bytesPerFrame: blockAlign, headerFrames: headerFrames,
                                      diskFrames: diskFrames, patches: patches,
                                      truncateTo: newSize < fileSize ? newSize : nil,
                                      peak: peakOffset.map { .init(valuesOffset: $0, channels: peakChannels,
                                                                   bytesPerSample: bytesPerSample,
                                                                   dataOffset: dataOffset, frames: diskFrames) }))
    }

    /// A chunk of a RIFF file: its id, the offset of its 8-byte header, its size as written.
    public struct RIFFChunkRef: Equatable, Sendable {
        public var id: String
        public var offset: Int
        public var size: Int
    }

    public struct Refusal: Error, Equatable {
        public var reason: String
    }

    /// The RF64 header for a WAV whose data passed 4 GiB, laid out as libsndfile's RF64 writer lays
    /// it out when its auto-downgraded WAV grows past 4 GiB (rf64.c): "RF64", size 0xFFFFFFFF,
    /// "WAVE", a 28-byte ds64 (RIFF size, data size, sample count, an empty table) where the
    /// WAV's reserved JUNK chunk was, the format chunk and any other chunks, no fact chunk (ds64
    /// holds the count), a "PAD " chunk filling what is left, and "data" with size 0xFFFFFFFF
    /// ending exactly where it ended before, so no audio moves. libsndfile 1.2.0 reserves 24
    /// bytes of JUNK (4 fewer than ds64 needs); the fact chunk it drops gives the room back.
    static func rf64Header(read: Reader, chunks: [RIFFChunkRef], dataOffset: Int, riffSize: UInt64,
                           dataBytes: UInt64, frames: UInt64) -> Result<(bytes: [UInt8], peakOffset: Int?), Refusal> {
        guard let first = chunks.first, first.id == "JUNK", first.offset == 12 else {
            return .failure(Refusal(reason: "no reserved JUNK chunk before the format chunk, so no room for RF64's ds64"))
        }
        var out: [UInt8] = Array("RF64".utf8) + leBytes(0xFFFF_FFFF, 4) + Array("WAVE".utf8)
        out += Array("ds64".utf8) + leBytes(28, 4) + leBytes(riffSize, 8) + leBytes(dataBytes, 8) + leBytes(frames, 8) + leBytes(0, 4)
        var peakOffset: Int?
        for c in chunks.dropFirst() where !["fact", "JUNK", "PAD ", "ds64"].contains(c.id) {
            if c.id == "PEAK" { peakOffset = out.count }
            let n = 8 + c.size + (c.size & 1)
            let bytes = read(c.offset, n)
            guard bytes.count == n else { return .failure(Refusal(reason: "truncated \(c.id) chunk")) }
            out += bytes
        }
        let room = dataOffset - 8 - out.count
        guard room == 0 || room >= 8 else {
            return .failure(Refusal(reason: "no room for an RF64 header (\(out.count + 8) bytes before the audio, \(dataOffset) there)"))
        }
        if room >= 8 { out += Array("PAD ".utf8) + leBytes(UInt64(room - 8), 4) + [UInt8](repeating: 0, count: room - 8) }
        out += Array("data".utf8) + leBytes(0xFFFF_FFFF, 4)
        return .success((out, peakOffset))
    }

    /// The PEAK values for `scan`: each channel's largest magnitude and the frame where it first
    /// occurs (as libsndfile counts them), read from the audio in blocks, in the file's byte order. Positions past 32 bits
    /// are clamped, as the chunk can't hold more.
    public static func peakPatch(_ scan: RepairPlan.PeakScan, read: Reader) -> RepairPlan.Patch? {
        let bpf = scan.channels * scan.bytesPerSample
        guard scan.channels > 0, bpf > 0 else { return nil }
        var peak = [Double](repeating: 0, count: scan.channels)
        var where_ = [Int](repeating: 0, count: scan.channels)
        let block = 16_384
        var frame = 0
        while frame < scan.frames {
            let n = Swift.min(block, scan.frames - frame)
            let b = read(scan.dataOffset + frame * bpf, n * bpf)
            guard b.count == n * bpf else { return nil }
            for i in 0..<n {
                for c in 0..<scan.channels {
                    let at = i * bpf + c * scan.bytesPerSample
                    let bits = scan.bigEndian ? be(b, at, scan.bytesPerSample) : le(b, at, scan.bytesPerSample)
                    let v = scan.bytesPerSample == 4 ? Double(Float(bitPattern: UInt32(bits))) : Double(bitPattern: bits)
                    if abs(v) > peak[c] { peak[c] = abs(v); where_[c] = frame + i }
                }
            }
            frame += n
        }
        var bytes: [UInt8] = []
        let encode = scan.bigEndian ? beBytes : leBytes
        for c in 0..<scan.channels {
            bytes += encode(UInt64(Float(peak[c]).bitPattern), 4) + encode(UInt64(Swift.min(where_[c], 0xFFFF_FFFF)), 4)
        }
        return .init(offset: scan.valuesOffset, bytes: bytes)
    }

    // MARK: Wave64

    static let w64Suffix1: [UInt8] = [0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00]
    static let w64Suffix2: [UInt8] = [0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A]

    static func analyzeW64(fileSize: Int, read: Reader) -> RepairAnalysis {
        let wave = read(24, 16)
        guard wave.count == 16, String(decoding: wave[0..<4], as: UTF8.self) == "wave",
              Array(wave[4..<16]) == w64Suffix2 else { return .notUnderstood(reason: "W64 file that is not wave") }
        var pos = 40
        var blockAlign = 0
        var factOffset: Int?
        var chunks = 0
        while pos + 24 <= fileSize {
            chunks += 1
            if chunks > 10_000 { return .notUnderstood(reason: "too many chunks") }
            let h = read(pos, 24)
            guard h.count == 24 else { break }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = le(h, 16, 8)
            guard size >= 24, size < UInt64(Int.max / 2) else { return .notUnderstood(reason: "damaged chunk at byte \(pos)") }
            if id == "fmt " && Array(h[4..<16]) == w64Suffix2 {
                guard blockAlign == 0 else { return .notUnderstood(reason: "more than one fmt chunk") }
                let f = read(pos + 24, 16)
                guard size >= 24 + 16, f.count == 16 else { return .notUnderstood(reason: "truncated fmt chunk") }
                blockAlign = Int(le(f, 12, 2))
                guard blockAlign > 0 else { return .notUnderstood(reason: "fmt chunk with a zero block size") }
            } else if id == "fact" && Array(h[4..<16]) == w64Suffix2 && size >= 32 {
                factOffset = pos + 24
            } else if id == "data" && Array(h[4..<16]) == w64Suffix2 {
                guard blockAlign > 0 else { return .notUnderstood(reason: "data before a valid fmt chunk") }
                let dataOffset = pos + 24
                let headerData = Int(size) - 24
                let available = fileSize - dataOffset
                if headerData <= available {
                    let end = dataOffset + headerData
                    if chainReachesEnd(from: end, fileSize: fileSize, read: read, headerBytes: 24, pad: 8, bigEndian: false) {
                        return .consistent(container: "W64", frames: headerData / blockAlign)
                    }
                }
                let diskFrames = available / blockAlign
                let dataBytes = diskFrames * blockAlign
                let newSize = dataOffset + dataBytes
                return .repairable(RepairPlan(
                    container: "W64", bytesPerFrame: blockAlign, headerFrames: Swift.max(0, headerData) / blockAlign,
                    diskFrames: diskFrames,
                    patches: [.init(offset: 16, bytes: leBytes(UInt64(newSize), 8)),
                              .init(offset: pos + 16, bytes: leBytes(UInt64(24 + dataBytes), 8))]
                        // The fact chunk's sample count (libsndfile writes one for float W64).
                        + (factOffset.map { [.init(offset: $0, bytes: leBytes(UInt64(diskFrames), 8))] } ?? []),
                    truncateTo: newSize < fileSize ? newSize : nil))
            }
            pos += Int(size + 7) & ~7
        }
        return .notUnderstood(reason: "no data chunk")
    }

    // MARK: CAF

    static func analyzeCAF(fileSize: Int, read: Reader) -> RepairAnalysis {
        var pos = 8
        var bytesPerFrame = 0
        var chunks = 0
        while pos + 12 <= fileSize {
            chunks += 1
            if chunks > 10_000 { return .notUnderstood(reason: "too many chunks") }
            let h = read(pos, 12)
            guard h.count == 12, isChunkID(Array(h[0..<4])) else { return .notUnderstood(reason: "damaged chunk at byte \(pos)") }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int64(bitPattern: be(h, 4, 8))
            if id == "desc" {
                guard bytesPerFrame == 0 else { return .notUnderstood(reason: "more than one desc chunk") }
                let d = read(pos + 12, 32)
                guard size >= 32, d.count == 32, String(decoding: d[8..<12], as: UTF8.self) == "lpcm" else {
                    return .notUnderstood(reason: "CAF that is not linear PCM")
                }
                bytesPerFrame = Int(be(d, 16, 4))
                guard be(d, 20, 4) == 1, bytesPerFrame > 0 else { return .notUnderstood(reason: "unusual CAF packets") }
            }
            if id == "data" {
                guard bytesPerFrame > 0 else { return .notUnderstood(reason: "data before desc") }
                let dataOffset = pos + 12 + 4  // after the edit count
                let available = fileSize - dataOffset
                guard available >= 0 else { return .notUnderstood(reason: "truncated data chunk") }
                if size >= 4 && size - 4 <= Int64(available) {
                    let end = dataOffset + Int(size - 4)
                    if chainReachesEnd(from: end, fileSize: fileSize, read: read, headerBytes: 12, pad: 1, bigEndian: true) {
                        return .consistent(container: "CAF", frames: Int(size - 4) / bytesPerFrame)
                    }
                }
                let diskFrames = available / bytesPerFrame
                let dataBytes = diskFrames * bytesPerFrame
                let newSize = dataOffset + dataBytes
                return .repairable(RepairPlan(
                    container: "CAF", bytesPerFrame: bytesPerFrame,
                    headerFrames: size < 4 ? 0 : Int(size - 4) / bytesPerFrame,
                    diskFrames: diskFrames,
                    patches: [.init(offset: pos + 4, bytes: beBytes(UInt64(dataBytes + 4), 8))],
                    truncateTo: newSize < fileSize ? newSize : nil))
            }
            guard size >= 0, size < Int64(Int.max / 2) else { return .notUnderstood(reason: "damaged chunk size at byte \(pos)") }
            pos += 12 + Int(size)
        }
        return .notUnderstood(reason: "no data chunk")
    }

    // MARK: AIFF / AIFF-C

    /// AIFF-C compression types whose samples are plain PCM, one packet per frame: the only ones
    /// whose length follows from the byte count. (Bytes per sample from COMM's sample size.)
    static let aiffPCMTypes: Set<String> = ["NONE", "twos", "sowt", "raw ", "in24", "in32", "fl32", "FL32", "fl64", "FL64"]

    /// An AIFF's length is in three places, all 32-bit big-endian: the FORM size, COMM's
    /// numSampleFrames and the SSND chunk's size (which counts its 8-byte offset/block-size
    /// header, and with libsndfile a pad byte). A crash leaves all three at the last checkpoint.
    /// Chunks after the audio (a MARK chunk appended at finish) are kept when they parse to the
    /// end of the file; anything else there is audio.
    static func analyzeAIFF(fileSize: Int, read: Reader) -> RepairAnalysis {
        let form = String(decoding: read(8, 4), as: UTF8.self)
        guard form == "AIFF" || form == "AIFC" else { return .notUnderstood(reason: "FORM file that is not AIFF") }
        var pos = 12
        var comm: (offset: Int, frames: Int, bytesPerFrame: Int, channels: Int, floatBytes: Int)?
        var peak: (offset: Int, size: Int)?
        var chunks = 0
        while pos + 8 <= fileSize {
            chunks += 1
            if chunks > 10_000 { return .notUnderstood(reason: "too many chunks") }
            let h = read(pos, 8)
            guard h.count == 8, isChunkID(Array(h[0..<4])) else { return .notUnderstood(reason: "damaged chunk at byte \(pos)") }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int(be(h, 4, 4))
            switch id {
            case "COMM":
                guard comm == nil else { return .notUnderstood(reason: "more than one COMM chunk") }
                let c = read(pos + 8, 22)
                guard size >= (form == "AIFC" ? 22 : 18), c.count >= 18 else { return .notUnderstood(reason: "truncated COMM chunk") }
                let channels = Int(be(c, 0, 2)), bits = Int(be(c, 6, 2))
                let type = form == "AIFC" && c.count == 22 ? String(decoding: c[18..<22], as: UTF8.self) : "NONE"
                guard aiffPCMTypes.contains(type) else { return .notUnderstood(reason: "AIFF-C compressed as '\(type)'") }
                guard channels > 0, bits > 0, bits <= 64 else { return .notUnderstood(reason: "COMM chunk with no channels or sample size") }
                let floatBytes = type.lowercased().hasPrefix("fl") ? (bits + 7) / 8 : 0
                comm = (pos + 8, Int(be(c, 2, 4)), channels * ((bits + 7) / 8), channels, floatBytes)
            case "PEAK":
                peak = (pos, size)
            case "SSND":
                guard let comm else { return .notUnderstood(reason: "SSND before COMM") }
                let s = read(pos + 8, 4)
                guard s.count == 4 else { return .notUnderstood(reason: "truncated SSND chunk") }
                let dataOffset = pos + 16 + Int(be(s, 0, 4))
                guard dataOffset <= fileSize else { return .notUnderstood(reason: "truncated SSND chunk") }
                // A float file's PEAK chunk (libsndfile writes one), with room for every channel.
                var scan: RepairPlan.PeakScan?
                if let peak, comm.floatBytes == 4 || comm.floatBytes == 8, peak.size >= 8 + 8 * comm.channels {
                    scan = .init(valuesOffset: peak.offset + 16, channels: comm.channels, bytesPerSample: comm.floatBytes,
                                 dataOffset: dataOffset, frames: 0, bigEndian: true)
                }
                return planAIFF(fileSize: fileSize, read: read, comm: (comm.offset, comm.frames, comm.bytesPerFrame),
                                ssndOffset: pos, headerData: Swift.max(0, size - (dataOffset - pos - 8)),
                                dataOffset: dataOffset, peak: scan)
            default:
                break
            }
            pos += 8 + size + (size & 1)
        }
        return .notUnderstood(reason: "no SSND chunk")
    }

    static func planAIFF(fileSize: Int, read: Reader, comm: (offset: Int, frames: Int, bytesPerFrame: Int),
                         ssndOffset: Int, headerData: Int, dataOffset: Int, peak: RepairPlan.PeakScan?) -> RepairAnalysis {
        let bpf = comm.bytesPerFrame
        let available = fileSize - dataOffset
        let formSize = Int(be(read(4, 4), 0, 4))
        // The audio is what the header claims if well-formed chunks follow it to the end;
        // otherwise every whole frame on disk (and a torn last one is cut).
        let keepsTail = headerData <= available
            && chainReachesEnd(from: dataOffset + headerData, fileSize: fileSize, read: read, headerBytes: 8, pad: 2, bigEndian: true)
        let dataBytes = keepsTail ? headerData : available / bpf * bpf
        let diskFrames = dataBytes / bpf
        let newSize = keepsTail ? fileSize : dataOffset + dataBytes
        // A writer that counted a pad byte it didn't write (or didn't count one it did) is fine.
        if keepsTail && comm.frames == diskFrames && abs(formSize + 8 - fileSize) <= 1 {
            return .consistent(container: "AIFF", frames: diskFrames)
        }
        guard newSize - 8 <= 0xFFFF_FFFF else {
            return .notUnderstood(reason: "AIFF audio past 4 GiB: its 32-bit sizes can't describe it")
        }
        var patches: [RepairPlan.Patch] = [.init(offset: 4, bytes: beBytes(UInt64(newSize - 8), 4)),
                                           .init(offset: comm.offset + 2, bytes: beBytes(UInt64(diskFrames), 4))]
        if !keepsTail {
            patches.append(.init(offset: ssndOffset + 4, bytes: beBytes(UInt64(dataOffset - ssndOffset - 8 + dataBytes), 4)))
        }
        var scan = peak
        scan?.frames = diskFrames
        return .repairable(RepairPlan(container: "AIFF", bytesPerFrame: bpf, headerFrames: comm.frames, diskFrames: diskFrames,
                                      patches: patches, truncateTo: newSize < fileSize ? newSize : nil, peak: scan))
    }
}

// MARK: FLAC frames

/// Finds where a FLAC stream's last whole frame ends, so a crash's torn final frame can be cut.
/// A frame is whole when its header is valid (sync, CRC-8, the next frame or sample number) and
/// its CRC-16 matches up to the next frame's start or the end of the file.
public enum FLACFrames {
    public struct Scan: Equatable, Sendable {
        /// Samples per channel in the whole frames.
        public var samples: Int
        /// Offset just past the last whole frame.
        public var end: Int
    }

    static let crc8Table: [UInt8] = (0..<256).map { i in
        var c = UInt8(i)
        for _ in 0..<8 { c = c & 0x80 != 0 ? (c << 1) ^ 0x07 : c << 1 }
        return c
    }
    static let crc16Table: [UInt16] = (0..<256).map { i in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x8005 : c << 1 }
        return c
    }

    /// Parses a frame header at `b[0...]`: (block size, frame or sample number, variable blocking)
    /// or nil when it isn't a valid one.
    static func header(_ b: [UInt8]) -> (blockSize: Int, number: UInt64, variable: Bool)? {
        guard b.count >= 16, b[0] == 0xFF, b[1] & 0xFE == 0xF8 else { return nil }
        let bsCode = Int(b[2] >> 4), srCode = Int(b[2] & 0x0F)
        guard bsCode != 0, srCode != 15, b[3] >> 4 < 11, (b[3] >> 1) & 7 != 3, b[3] & 1 == 0 else { return nil }
        // The UTF-8-like coded number.
        var n = 0
        var v = UInt64(b[4])
        if b[4] & 0x80 == 0 { n = 0 } else {
            var lead = b[4], ones = 0
            while lead & 0x80 != 0 { ones += 1; lead <<= 1 }
            guard ones >= 2, ones <= 7 else { return nil }
            n = ones - 1
            v = UInt64(b[4] & (0x7F >> ones))
            for i in 0..<n {
                guard b[5 + i] & 0xC0 == 0x80 else { return nil }
                v = v << 6 | UInt64(b[5 + i] & 0x3F)
            }
        }
        var at = 5 + n
        var blockSize: Int
        switch bsCode {
        case 1: blockSize = 192
        case 2...5: blockSize = 576 << (bsCode - 2)
        case 6: blockSize = Int(b[at]) + 1; at += 1
        case 7: blockSize = (Int(b[at]) << 8 | Int(b[at + 1])) + 1; at += 2
        default: blockSize = 256 << (bsCode - 8)
        }
        switch srCode {
        case 12: at += 1
        case 13, 14: at += 2
        default: break
        }
        guard at < b.count else { return nil }
        var crc: UInt8 = 0
        for i in 0..<at { crc = crc8Table[Int(crc ^ b[i])] }
        guard crc == b[at] else { return nil }
        return (blockSize, v, b[1] & 1 == 1)
    }

    /// Scans the frames from just after the metadata blocks. With `total` (a finished stream's
    /// STREAMINFO count), a frame whose CRC-16 checks out and which completes that count ends
    /// the stream even when other bytes follow it (a tag someone appended).
    public static func scan(fileSize: Int, read: HeaderRepair.Reader, total: Int? = nil) -> Scan? {
        guard read(0, 4) == Array("fLaC".utf8) else { return nil }
        var pos = 4
        while true {  // metadata blocks
            let h = read(pos, 4)
            guard h.count == 4 else { return nil }
            pos += 4 + Int(HeaderRepair.be(h, 1, 3))
            if h[0] & 0x80 != 0 { break }
            guard pos < fileSize else { return nil }
        }
        // A sliding window over the file, read in blocks.
        var window: [UInt8] = []
        var windowStart = 0
        func bytes(_ at: Int, _ n: Int) -> [UInt8] {
            if at < windowStart || at + n > windowStart + window.count {
                windowStart = at
                window = read(at, Swift.max(n, 1 << 20))
            }
            let lo = at - windowStart
            return Array(window[lo..<Swift.min(window.count, lo + n)])
        }
        var samples = 0
        var end = pos
        var index: UInt64 = 0
        var frameStart = pos
        guard let first = header(bytes(frameStart, 16)) else { return Scan(samples: 0, end: pos) }
        var current = first
        var crc: UInt16 = 0
        var p = frameStart
        while p < fileSize {
            let b = bytes(p, 1)
            guard b.count == 1 else { break }
            crc = (crc << 8) ^ crc16Table[Int(UInt8(crc >> 8) ^ b[0])]
            p += 1
            // A frame ends where its CRC-16 checks out and the next valid header begins (or the file ends).
            guard crc == 0, p - frameStart >= 8 else { continue }
            let expected = current.variable ? UInt64(samples + current.blockSize) : index + 1
            let nextHeader = p < fileSize ? header(bytes(p, 16)) : nil
            let completes = total == samples + current.blockSize
            if p == fileSize || completes || (nextHeader.map { $0.number == expected && $0.variable == current.variable } ?? false) {
                samples += current.blockSize
                index += 1
                end = p
                guard !completes, let next = nextHeader else { break }
                current = next
                frameStart = p
                crc = 0
            }
        }
        return Scan(samples: samples, end: end)
    }
}
