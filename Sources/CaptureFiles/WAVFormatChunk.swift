// The WAV format chunk readers expect: plain PCM or IEEE float where the WAV rules allow it, and
// discrete channels (no speaker layout) for three or more.
//
// libsndfile's RF64 writer (used for WAV so that a file can grow past 4 GiB) always writes a
// 40-byte WAVE_FORMAT_EXTENSIBLE chunk with a surround channel mask for 4, 6 and 8 channels, and
// has no command for mask 0 (SFC_SET_CHANNEL_MAP_INFO falls back to its default for an
// unmappable map). So after each header libsndfile writes (checkpoint, close), the recorder
// rewrites that one chunk in place, same size:
// - integer, at most 2 channels and 16 bits: WAVE_FORMAT_PCM, a 16-byte fmt plus a 16-byte JUNK;
// - float, at most 2 channels: WAVE_FORMAT_IEEE_FLOAT (cbSize 0), 18-byte fmt plus 14-byte JUNK;
// - 3 or more channels: EXTENSIBLE kept, dwChannelMask set to 0 (discrete, one track each).
// libsndfile's header write is a single write; a crash between it and this one leaves the
// EXTENSIBLE form, which is just as valid.
import CaptureCore
import Glibc

enum WAVFormatChunk {
    /// The replacement for a 48-byte EXTENSIBLE chunk (header included), or nil to leave it.
    static func replacement(for old: [UInt8], format: StreamFormat) -> [UInt8]? {
        guard old.count == 48, old[0..<4] == ArraySlice("fmt ".utf8), CueWriter.le32(old, 4) == 40,
              CueWriter.le32(old, 8) & 0xFFFF == 0xFFFE else { return nil }
        let channels = format.channels
        let bits = format.sampleFormat.bytesPerSample * 8
        var b = old
        func put(_ v: UInt64, _ n: Int, at: Int) { for i in 0..<n { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        let isFloat = format.sampleFormat == .floatLE
        if channels <= 2 && (isFloat || bits <= 16) {
            // tag, channels, rate, byte rate, block align and bits are where they were.
            put(isFloat ? 3 : 1, 2, at: 8)
            let fmtSize = isFloat ? 18 : 16
            put(UInt64(fmtSize), 4, at: 4)
            var at = 8 + fmtSize
            if isFloat { put(0, 2, at: 24); at = 26 }  // cbSize 0
            let junk = 48 - at - 8
            b.replaceSubrange(at..<48, with: Array("JUNK".utf8) + CueWriter.le(UInt64(junk), 4) + [UInt8](repeating: 0, count: junk))
            return b
        }
        if channels >= 3 {
            guard CueWriter.le32(old, 8 + 20) != 0 else { return nil }
            put(0, 4, at: 8 + 20)
            return b
        }
        return nil
    }

    /// Finds the format chunk among the first chunks of the WAV/RF64 file on `fd` and rewrites it.
    /// Returns the errno of a read or write that failed (`.none` when done or nothing to do; a
    /// short write, which sets no errno, is EIO).
    static func applying(fd: Int32, format: StreamFormat) -> Errno {
        let found = RIFFHeader.chunk("fmt ", fd: fd, within: 16)
        guard case .success(let (pos, size)?) = found else { if case .failure(let e) = found { return e }; return .none }
        var old = [UInt8](repeating: 0, count: 48)
        let o = retryingInterrupts { pread(fd, &old, 48, off_t(pos)) }
        if o.failed { return o.error }
        guard size == 40, o.value == 48, let new = replacement(for: old, format: format) else { return .none }
        return RIFFHeader.write(new, fd: fd, at: pos)
    }
}

/// The chunks of a WAV/RF64 header, before its audio, read straight from the file (libsndfile
/// keeps no handle on them): found, then patched in place.
enum RIFFHeader {
    /// The offset (of its 8-byte header) and size of the first chunk `id` among the first `limit`
    /// chunks before `data`; nil if it isn't there or the file isn't RIFF/RF64. A read that fails
    /// gives its errno.
    static func chunk(_ id: String, fd: Int32, within limit: Int) -> Result<(offset: Int, size: Int)?, Errno> {
        var head = [UInt8](repeating: 0, count: 12)
        let got = retryingInterrupts { pread(fd, &head, 12, 0) }
        if got.failed { return .failure(got.error) }
        guard got.value == 12, head[0..<4] == ArraySlice("RIFF".utf8) || head[0..<4] == ArraySlice("RF64".utf8) else { return .success(nil) }
        var pos = 12
        for _ in 0..<limit {
            var h = [UInt8](repeating: 0, count: 8)
            let r = retryingInterrupts { pread(fd, &h, 8, off_t(pos)) }
            if r.failed { return .failure(r.error) }
            guard r.value == 8 else { return .success(nil) }
            let size = Int(CueWriter.le32(h, 4))
            if h[0..<4] == ArraySlice("data".utf8) { return .success(nil) }
            if h[0..<4] == ArraySlice(id.utf8) { return .success((pos, size)) }
            pos += 8 + size + (size & 1)
        }
        return .success(nil)
    }

    /// Writes `bytes` at `offset`: `.none`, the errno, or EIO for a short write (which sets none).
    static func write(_ bytes: [UInt8], fd: Int32, at offset: Int) -> Errno {
        let w = retryingInterrupts { pwrite(fd, bytes, bytes.count, off_t(offset)) }
        if w.failed { return w.error }
        return w.value == bytes.count ? .none : Errno(EIO)
    }
}
