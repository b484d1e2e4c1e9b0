// How a recording's samples are stored in its file, when not as they arrive: the encoding and,
// where the container has a choice, the byte order.
import CSndfile
import CaptureCore

/// A file's sample encoding and byte order. The rate and channels are always the stream's.
public struct FileSampleFormat: Equatable, Sendable, CustomStringConvertible {
    public enum ByteOrder: String, Sendable { case little, big }

    /// 16, 24 (`.s24_3LE`; `.s24LE` means the same in a file), 32-bit integer or 32-bit float.
    /// The "LE" in the name is the stream's layout; the file's is `byteOrder`.
    public var sampleFormat: SampleFormat
    /// nil: the container's own (WAV, W64 little-endian; CAF and AIFF big-endian).
    public var byteOrder: ByteOrder?

    public init(sampleFormat: SampleFormat, byteOrder: ByteOrder? = nil) {
        self.sampleFormat = sampleFormat == .s24LE ? .s24_3LE : sampleFormat
        self.byteOrder = byteOrder
    }

    /// Bytes one frame of `channels` takes in the file (24-bit samples are packed in 3).
    public func bytesPerFrame(channels: Int) -> Int { sampleFormat.bytesPerSample * channels }

    public var description: String {
        let name = sampleFormat.isFloat ? "32-bit float" : "\(sampleFormat.bitDepth)-bit integer"
        return byteOrder.map { "\(name) \($0.rawValue)-endian" } ?? name
    }
}

extension FileType {
    /// Checks this container can hold samples in `file`: WAV and W64 are little-endian; FLAC holds
    /// 16 or 24-bit integers and has no byte order to choose; AIFF is big-endian, except 16-bit
    /// little-endian as AIFF-C `sowt` (libsndfile writes 24 and 32-bit little-endian as types only
    /// it reads), and float is AIFF-C `FL32`, big-endian; CAF holds every format in either order.
    public func validate(_ file: FileSampleFormat) throws(RecordingError) {
        try validate(file.sampleFormat)
        let reason: String
        switch (self, file.byteOrder) {
        case (_, nil), (.caf, _): return
        case (.wav, .big?), (.w64, .big?): reason = "\(rawValue.uppercased()) samples are little-endian; use caf for big-endian"
        case (.flac, _?): reason = "FLAC has no byte order to choose"
        case (.aiff, .little?) where file.sampleFormat != .s16LE:
            reason = "AIFF holds little-endian samples only as 16-bit (AIFF-C 'sowt'); use big-endian, or caf"
        default: return
        }
        throw .unsupportedFormat(type: rawValue.uppercased(), format: file.description, reason: reason)
    }

    /// libsndfile's format for samples in `file`. AIFF's big-endian is the file's own order: an
    /// explicit SF_ENDIAN_BIG would make libsndfile write AIFF-C `twos`/`in24`/`in32`, which
    /// sox doesn't read, where plain AIFF says the same.
    func sndfileFormat(_ file: FileSampleFormat) -> Int32 {
        let base = sndfileFormat(file.sampleFormat)
        switch (self, file.byteOrder) {
        case (.caf, .little?), (.aiff, .little?): return base | Int32(SF_ENDIAN_LITTLE)
        case (.caf, .big?): return base | Int32(SF_ENDIAN_BIG)
        default: return base
        }
    }
}
