// CMSampleBuffer: captured audio as Apple hands it to a delegate, with CoreMedia's C functions
// (including the two-call AudioBufferList pattern) and the Swift-era members.
import CaptureCore
import CaptureDeck
import Foundation

public var kCMSampleBufferError_AllocationFailed: OSStatus { -12730 }
public var kCMSampleBufferError_RequiredParameterMissing: OSStatus { -12731 }
public var kCMSampleBufferError_AlreadyHasDataBuffer: OSStatus { -12732 }
public var kCMSampleBufferError_BufferNotReady: OSStatus { -12733 }
public var kCMSampleBufferError_SampleIndexOutOfRange: OSStatus { -12734 }
public var kCMSampleBufferError_BufferHasNoSampleSizes: OSStatus { -12735 }
public var kCMSampleBufferError_BufferHasNoSampleTimingInfo: OSStatus { -12736 }
public var kCMSampleBufferError_ArrayTooSmall: OSStatus { -12737 }
public var kCMSampleBufferError_InvalidEntryCount: OSStatus { -12738 }
public var kCMSampleBufferError_CannotSubdivide: OSStatus { -12739 }
public var kCMSampleBufferError_SampleTimingInfoInvalid: OSStatus { -12740 }
public var kCMSampleBufferError_InvalidMediaTypeForOperation: OSStatus { -12741 }
public var kCMSampleBufferError_InvalidSampleData: OSStatus { -12742 }
public var kCMSampleBufferError_InvalidMediaFormat: OSStatus { -12743 }
public var kCMSampleBufferError_Invalidated: OSStatus { -12744 }
public var kCMSampleBufferError_DataFailed: OSStatus { -16750 }
public var kCMSampleBufferError_DataCanceled: OSStatus { -16751 }

/// Ask for 16-byte-aligned buffers in the AudioBufferList (CaptureDeck's always are).
public var kCMSampleBufferFlag_AudioBufferList_Assure16ByteAlignment: UInt32 { 1 << 0 }

/// A buffer of captured audio: interleaved linear PCM frames, their format and timing.
///
/// Immutable: format, timing and the data's block buffer are fixed at creation. The data pointers
/// it hands out point into its `CMBlockBuffer` and stay valid while the sample buffer, or the block
/// buffer the caller retained, lives.
/// `@unchecked Sendable` for the reason `CMBlockBuffer` is (and as Apple's code passes sample
/// buffers across queues): every stored property is a `let` of a thread-safe type, and the bytes
/// are written once, before the buffer is delivered.
public final class CMSampleBuffer: @unchecked Sendable {
    let format: CMFormatDescription
    let data: CMBlockBuffer
    let frames: Int
    let bytesPerFrame: Int
    let pts: CMTime
    let frameDuration: CMTime

    /// The session layer's factory: `audio`'s frames, presented at `presentationTimeStamp`, with
    /// the ASBD Apple's would carry for its format (signed integer or float, packed, little-endian,
    /// interleaved; S24_LE is 24 bits low-aligned in 4 bytes, i.e. not packed).
    init(audio: AudioSampleBuffer, presentationTimeStamp: CMTime) {
        let asbd = CMSampleBuffer.streamDescription(for: audio.format)
        format = CMFormatDescription(audio: asbd)
        let frameBytes = audio.format.bytesPerFrame
        let count = min(audio.frameCount, audio.bytes.count / max(frameBytes, 1))
        bytesPerFrame = frameBytes
        frames = count
        data = audio.bytes.withUnsafeBytes { CMBlockBuffer(copying: UnsafeRawBufferPointer(rebasing: $0[0..<(count * frameBytes)])) }
        pts = presentationTimeStamp
        frameDuration = CMTime(value: 1, timescale: Int32(audio.format.sampleRate))
    }

    /// The ASBD of CaptureDeck's interleaved little-endian `format`.
    static func streamDescription(for format: StreamFormat) -> AudioStreamBasicDescription {
        let flags: AudioFormatFlags
        let bits: UInt32
        switch format.sampleFormat {
        case .s16LE: (flags, bits) = (kAudioFormatFlagIsSignedInteger | kAudioFormatFlagIsPacked, 16)
        case .s24_3LE: (flags, bits) = (kAudioFormatFlagIsSignedInteger | kAudioFormatFlagIsPacked, 24)
        case .s24LE: (flags, bits) = (kAudioFormatFlagIsSignedInteger, 24)
        case .s32LE: (flags, bits) = (kAudioFormatFlagIsSignedInteger | kAudioFormatFlagIsPacked, 32)
        case .floatLE: (flags, bits) = (kAudioFormatFlagsNativeFloatPacked, 32)
        }
        let bpf = UInt32(format.bytesPerFrame)
        return AudioStreamBasicDescription(
            mSampleRate: Float64(format.sampleRate), mFormatID: kAudioFormatLinearPCM, mFormatFlags: flags,
            mBytesPerPacket: bpf, mFramesPerPacket: 1, mBytesPerFrame: bpf,
            mChannelsPerFrame: UInt32(format.channels), mBitsPerChannel: bits, mReserved: 0)
    }

    var channels: Int { Int(format.audioStreamBasicDescription?.mChannelsPerFrame ?? 0) }

    /// Options for the Swift-era AudioBufferList members.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let audioBufferListAssure16ByteAlignment = Flags(rawValue: 1 << 0)
    }

    public var numSamples: CMItemCount { frames }
    public var presentationTimeStamp: CMTime { pts }
    /// The presentation time after edits: there are none, so `presentationTimeStamp`.
    public var outputPresentationTimeStamp: CMTime { pts }
    /// Audio has no decode order: invalid, as Apple's audio buffers report.
    public var decodeTimeStamp: CMTime { .invalid }
    public var outputDecodeTimeStamp: CMTime { .invalid }
    /// The whole buffer's duration: `numSamples` frames at the sample rate.
    public var duration: CMTime { CMTimeMultiply(frameDuration, multiplier: Int32(clamping: frames)) }
    public var outputDuration: CMTime { duration }
    public var formatDescription: CMFormatDescription? { format }
    public var dataBuffer: CMBlockBuffer? { data }
    /// True: a CaptureDeck buffer is never invalidated.
    public var isValid: Bool { true }
    public var totalSampleSize: Int { frames * bytesPerFrame }

    /// Bytes of the sample (frame) at `sampleIndex`: every frame is the same size.
    public func sampleSize(at sampleIndex: CMItemIndex) -> Int {
        sampleIndex >= 0 && sampleIndex < frames ? bytesPerFrame : 0
    }

    /// Calls `body` with an AudioBufferList over this buffer's data (one interleaved buffer) and
    /// the block buffer backing it; the list's pointers are valid inside `body` (and after, while
    /// the block buffer is kept). Throws an `NSOSStatusErrorDomain` error if the list can't be made.
    public func withAudioBufferList<R>(blockBufferMemoryAllocator: CFAllocator? = kCFAllocatorDefault,
                                       flags: CMSampleBuffer.Flags = [],
                                       body: (UnsafeMutableAudioBufferListPointer, CMBlockBuffer) throws -> R) throws -> R {
        var list = AudioBufferList()
        var block: CMBlockBuffer?
        let status = CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            self, bufferListSizeNeededOut: nil, bufferListOut: &list, bufferListSize: MemoryLayout<AudioBufferList>.size,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: blockBufferMemoryAllocator, flags: flags.rawValue,
            blockBufferOut: &block)
        guard status == noErr, let block else { throw osStatusError(status) }
        return try withUnsafeMutablePointer(to: &list) { try body(UnsafeMutableAudioBufferListPointer($0), block) }
    }

    /// Copies frames `range` into `bufferList` (see `CMSampleBufferCopyPCMDataIntoAudioBufferList`).
    public func copyPCMData(fromRange range: Range<Int>, into bufferList: UnsafeMutablePointer<AudioBufferList>) throws {
        guard let offset = Int32(exactly: range.lowerBound), let count = Int32(exactly: range.count) else {
            throw osStatusError(kCMSampleBufferError_SampleIndexOutOfRange)
        }
        let status = CMSampleBufferCopyPCMDataIntoAudioBufferList(self, at: offset, frameCount: count, into: bufferList)
        if status != noErr { throw osStatusError(status) }
    }
}

public func CMSampleBufferGetNumSamples(_ sbuf: CMSampleBuffer) -> CMItemCount { sbuf.numSamples }
public func CMSampleBufferGetPresentationTimeStamp(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.presentationTimeStamp }
public func CMSampleBufferGetOutputPresentationTimeStamp(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.outputPresentationTimeStamp }
public func CMSampleBufferGetDecodeTimeStamp(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.decodeTimeStamp }
public func CMSampleBufferGetOutputDecodeTimeStamp(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.outputDecodeTimeStamp }
public func CMSampleBufferGetDuration(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.duration }
public func CMSampleBufferGetOutputDuration(_ sbuf: CMSampleBuffer) -> CMTime { sbuf.outputDuration }
public func CMSampleBufferGetFormatDescription(_ sbuf: CMSampleBuffer) -> CMFormatDescription? { sbuf.formatDescription }
public func CMSampleBufferGetDataBuffer(_ sbuf: CMSampleBuffer) -> CMBlockBuffer? { sbuf.dataBuffer }
public func CMSampleBufferIsValid(_ sbuf: CMSampleBuffer) -> Bool { sbuf.isValid }
/// True: the data is in memory when the buffer is delivered.
public func CMSampleBufferDataIsReady(_ sbuf: CMSampleBuffer) -> Bool { true }
public func CMSampleBufferGetTotalSampleSize(_ sbuf: CMSampleBuffer) -> Int { sbuf.totalSampleSize }
public func CMSampleBufferGetSampleSize(_ sbuf: CMSampleBuffer, at sampleIndex: CMItemIndex) -> Int { sbuf.sampleSize(at: sampleIndex) }

/// Fills `bufferListOut` with one interleaved `AudioBuffer` pointing into the sample buffer's
/// data, and retains that data's block buffer into `blockBufferOut`, as Apple's does.
///
/// The two-call pattern works: pass nil `bufferListOut` to learn the size through
/// `bufferListSizeNeededOut` (`AudioBufferList.sizeInBytes(maximumBuffers: 1)`, which is
/// `MemoryLayout<AudioBufferList>.size`), then allocate and call again. A `bufferListSize`
/// smaller than needed gives `kCMSampleBufferError_ArrayTooSmall`. No data is copied: the buffers
/// are contiguous and 16-byte aligned already, so the flags change nothing. A nil `blockBufferOut`
/// is accepted (the pointers then live as long as `sbuf`). Allocators are ignored.
public func CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
    _ sbuf: CMSampleBuffer, bufferListSizeNeededOut: UnsafeMutablePointer<Int>?,
    bufferListOut: UnsafeMutablePointer<AudioBufferList>?, bufferListSize: Int,
    blockBufferAllocator blockBufferStructureAllocator: CFAllocator?,
    blockBufferMemoryAllocator blockBufferBlockAllocator: CFAllocator?, flags: UInt32,
    blockBufferOut: UnsafeMutablePointer<CMBlockBuffer?>?
) -> OSStatus {
    let needed = AudioBufferList.sizeInBytes(maximumBuffers: 1)
    bufferListSizeNeededOut?.pointee = needed
    guard let bufferListOut else { return noErr }
    guard bufferListSize >= needed else { return kCMSampleBufferError_ArrayTooSmall }
    let list = UnsafeMutableAudioBufferListPointer(bufferListOut)
    list.count = 1
    list[0] = AudioBuffer(mNumberChannels: UInt32(sbuf.channels), mDataByteSize: UInt32(sbuf.totalSampleSize),
                          mData: sbuf.data.storage)
    blockBufferOut?.pointee = sbuf.data
    return noErr
}

/// Copies `numFrames` frames from `frameOffset` into a pre-populated list: one buffer of all
/// channels interleaved, or one buffer per channel (deinterleaved). Each buffer must hold the
/// frames (else `kCMSampleBufferError_ArrayTooSmall`); its `mDataByteSize` is set to the bytes
/// copied. Frames outside the buffer give `kCMSampleBufferError_SampleIndexOutOfRange`, a list of
/// another shape `kCMSampleBufferError_InvalidMediaFormat`.
public func CMSampleBufferCopyPCMDataIntoAudioBufferList(_ sbuf: CMSampleBuffer, at frameOffset: Int32,
                                                         frameCount numFrames: Int32,
                                                         into bufferList: UnsafeMutablePointer<AudioBufferList>) -> OSStatus {
    let offset = Int(frameOffset), count = Int(numFrames)
    guard offset >= 0, count >= 0, offset + count <= sbuf.frames else { return kCMSampleBufferError_SampleIndexOutOfRange }
    let list = UnsafeMutableAudioBufferListPointer(bufferList)
    let channels = sbuf.channels, frameBytes = sbuf.bytesPerFrame
    let source = sbuf.data.storage + offset * frameBytes
    if list.count == 1 && Int(list[0].mNumberChannels) == channels {
        let bytes = count * frameBytes
        guard let dst = list[0].mData, Int(list[0].mDataByteSize) >= bytes else { return kCMSampleBufferError_ArrayTooSmall }
        dst.copyMemory(from: source, byteCount: bytes)
        list[0].mDataByteSize = UInt32(bytes)
        return noErr
    }
    guard list.count == channels, list.allSatisfy({ $0.mNumberChannels == 1 }) else { return kCMSampleBufferError_InvalidMediaFormat }
    let sampleBytes = frameBytes / max(channels, 1)
    for ch in 0..<channels {
        guard list[ch].mData != nil, Int(list[ch].mDataByteSize) >= count * sampleBytes else { return kCMSampleBufferError_ArrayTooSmall }
    }
    for ch in 0..<channels {
        let dst = list[ch].mData!
        for f in 0..<count {
            (dst + f * sampleBytes).copyMemory(from: source + f * frameBytes + ch * sampleBytes, byteCount: sampleBytes)
        }
        list[ch].mDataByteSize = UInt32(count * sampleBytes)
    }
    return noErr
}
