// CoreAudioTypes' subset audio code calls: format IDs and flags, AudioStreamBasicDescription,
// AudioBuffer/AudioBufferList and the overlay's UnsafeMutableAudioBufferListPointer, OSStatus.
import Foundation

/// A Core Audio result code (0 is success).
public typealias OSStatus = Int32
/// A four-character code packed big-end first into 32 bits ('lpcm' is 0x6C70636D).
public typealias FourCharCode = UInt32
/// An audio data format's four-character identifier.
public typealias AudioFormatID = UInt32
/// Format-specific flags (for linear PCM the `kAudioFormatFlag…` bits).
public typealias AudioFormatFlags = UInt32

/// Success.
public var noErr: OSStatus { 0 }

// MARK: Format IDs (Apple's four-character codes)

public var kAudioFormatLinearPCM: AudioFormatID { 0x6C70636D }  // 'lpcm'
public var kAudioFormatAC3: AudioFormatID { 0x61632D33 }  // 'ac-3'
public var kAudioFormat60958AC3: AudioFormatID { 0x63616333 }  // 'cac3'
public var kAudioFormatAppleIMA4: AudioFormatID { 0x696D6134 }  // 'ima4'
public var kAudioFormatMPEG4AAC: AudioFormatID { 0x61616320 }  // 'aac '
public var kAudioFormatMPEG4CELP: AudioFormatID { 0x63656C70 }  // 'celp'
public var kAudioFormatMPEG4HVXC: AudioFormatID { 0x68767863 }  // 'hvxc'
public var kAudioFormatMPEG4TwinVQ: AudioFormatID { 0x74777671 }  // 'twvq'
public var kAudioFormatMACE3: AudioFormatID { 0x4D414333 }  // 'MAC3'
public var kAudioFormatMACE6: AudioFormatID { 0x4D414336 }  // 'MAC6'
public var kAudioFormatULaw: AudioFormatID { 0x756C6177 }  // 'ulaw'
public var kAudioFormatALaw: AudioFormatID { 0x616C6177 }  // 'alaw'
public var kAudioFormatQDesign: AudioFormatID { 0x51444D43 }  // 'QDMC'
public var kAudioFormatQDesign2: AudioFormatID { 0x51444D32 }  // 'QDM2'
public var kAudioFormatQUALCOMM: AudioFormatID { 0x51636C70 }  // 'Qclp'
public var kAudioFormatMPEGLayer1: AudioFormatID { 0x2E6D7031 }  // '.mp1'
public var kAudioFormatMPEGLayer2: AudioFormatID { 0x2E6D7032 }  // '.mp2'
public var kAudioFormatMPEGLayer3: AudioFormatID { 0x2E6D7033 }  // '.mp3'
public var kAudioFormatTimeCode: AudioFormatID { 0x74696D65 }  // 'time'
public var kAudioFormatMIDIStream: AudioFormatID { 0x6D696469 }  // 'midi'
public var kAudioFormatParameterValueStream: AudioFormatID { 0x61707673 }  // 'apvs'
public var kAudioFormatAppleLossless: AudioFormatID { 0x616C6163 }  // 'alac'
public var kAudioFormatMPEG4AAC_HE: AudioFormatID { 0x61616368 }  // 'aach'
public var kAudioFormatMPEG4AAC_LD: AudioFormatID { 0x6161636C }  // 'aacl'
public var kAudioFormatMPEG4AAC_ELD: AudioFormatID { 0x61616365 }  // 'aace'
public var kAudioFormatMPEG4AAC_ELD_SBR: AudioFormatID { 0x61616366 }  // 'aacf'
public var kAudioFormatMPEG4AAC_ELD_V2: AudioFormatID { 0x61616367 }  // 'aacg'
public var kAudioFormatMPEG4AAC_HE_V2: AudioFormatID { 0x61616370 }  // 'aacp'
public var kAudioFormatMPEG4AAC_Spatial: AudioFormatID { 0x61616373 }  // 'aacs'
public var kAudioFormatMPEGD_USAC: AudioFormatID { 0x75736163 }  // 'usac'
public var kAudioFormatAMR: AudioFormatID { 0x73616D72 }  // 'samr'
public var kAudioFormatAMR_WB: AudioFormatID { 0x73617762 }  // 'sawb'
public var kAudioFormatAudible: AudioFormatID { 0x41554442 }  // 'AUDB'
public var kAudioFormatiLBC: AudioFormatID { 0x696C6263 }  // 'ilbc'
public var kAudioFormatAES3: AudioFormatID { 0x61657333 }  // 'aes3'
public var kAudioFormatEnhancedAC3: AudioFormatID { 0x65632D33 }  // 'ec-3'
public var kAudioFormatFLAC: AudioFormatID { 0x666C6163 }  // 'flac'
public var kAudioFormatOpus: AudioFormatID { 0x6F707573 }  // 'opus'
public var kAudioFormatDVIIntelIMA: AudioFormatID { 0x6D73_0011 }
public var kAudioFormatMicrosoftGSM: AudioFormatID { 0x6D73_0031 }

// MARK: Format flags

public var kAudioFormatFlagIsFloat: AudioFormatFlags { 1 << 0 }
public var kAudioFormatFlagIsBigEndian: AudioFormatFlags { 1 << 1 }
public var kAudioFormatFlagIsSignedInteger: AudioFormatFlags { 1 << 2 }
/// Samples fill their channel's bytes (`mBitsPerChannel == 8 * bytes per channel`).
public var kAudioFormatFlagIsPacked: AudioFormatFlags { 1 << 3 }
/// In an unpacked format, the sample occupies the channel's high bits (else its low bits).
public var kAudioFormatFlagIsAlignedHigh: AudioFormatFlags { 1 << 4 }
/// One buffer per channel (else one buffer of interleaved frames).
public var kAudioFormatFlagIsNonInterleaved: AudioFormatFlags { 1 << 5 }
public var kAudioFormatFlagIsNonMixable: AudioFormatFlags { 1 << 6 }
public var kAudioFormatFlagsAreAllClear: AudioFormatFlags { 0x8000_0000 }

public var kLinearPCMFormatFlagIsFloat: AudioFormatFlags { kAudioFormatFlagIsFloat }
public var kLinearPCMFormatFlagIsBigEndian: AudioFormatFlags { kAudioFormatFlagIsBigEndian }
public var kLinearPCMFormatFlagIsSignedInteger: AudioFormatFlags { kAudioFormatFlagIsSignedInteger }
public var kLinearPCMFormatFlagIsPacked: AudioFormatFlags { kAudioFormatFlagIsPacked }
public var kLinearPCMFormatFlagIsAlignedHigh: AudioFormatFlags { kAudioFormatFlagIsAlignedHigh }
public var kLinearPCMFormatFlagIsNonInterleaved: AudioFormatFlags { kAudioFormatFlagIsNonInterleaved }
public var kLinearPCMFormatFlagIsNonMixable: AudioFormatFlags { kAudioFormatFlagIsNonMixable }
public var kLinearPCMFormatFlagsSampleFractionShift: AudioFormatFlags { 7 }
public var kLinearPCMFormatFlagsSampleFractionMask: AudioFormatFlags { 0x3F << 7 }
public var kLinearPCMFormatFlagsAreAllClear: AudioFormatFlags { kAudioFormatFlagsAreAllClear }

public var kAppleLosslessFormatFlag_16BitSourceData: AudioFormatFlags { 1 }
public var kAppleLosslessFormatFlag_20BitSourceData: AudioFormatFlags { 2 }
public var kAppleLosslessFormatFlag_24BitSourceData: AudioFormatFlags { 3 }
public var kAppleLosslessFormatFlag_32BitSourceData: AudioFormatFlags { 4 }

/// This machine's byte order: 0 on little-endian hosts (every Linux target Swift supports here).
public var kAudioFormatFlagsNativeEndian: AudioFormatFlags {
    1.littleEndian == 1 ? 0 : kAudioFormatFlagIsBigEndian
}
/// 32-bit float, native-endian, packed: Core Audio's canonical float format.
public var kAudioFormatFlagsNativeFloatPacked: AudioFormatFlags {
    kAudioFormatFlagIsFloat | kAudioFormatFlagsNativeEndian | kAudioFormatFlagIsPacked
}

// MARK: AudioStreamBasicDescription

/// The layout of a stream of audio data (Core Audio's ASBD), with C's field names and order.
public struct AudioStreamBasicDescription: Sendable {
    public var mSampleRate: Float64
    public var mFormatID: AudioFormatID
    public var mFormatFlags: AudioFormatFlags
    public var mBytesPerPacket: UInt32
    public var mFramesPerPacket: UInt32
    public var mBytesPerFrame: UInt32
    public var mChannelsPerFrame: UInt32
    public var mBitsPerChannel: UInt32
    public var mReserved: UInt32

    /// All fields zero, as C's zero-initialized struct.
    public init() {
        self.init(mSampleRate: 0, mFormatID: 0, mFormatFlags: 0, mBytesPerPacket: 0, mFramesPerPacket: 0,
                  mBytesPerFrame: 0, mChannelsPerFrame: 0, mBitsPerChannel: 0, mReserved: 0)
    }

    public init(mSampleRate: Float64, mFormatID: AudioFormatID, mFormatFlags: AudioFormatFlags,
                mBytesPerPacket: UInt32, mFramesPerPacket: UInt32, mBytesPerFrame: UInt32,
                mChannelsPerFrame: UInt32, mBitsPerChannel: UInt32, mReserved: UInt32) {
        self.mSampleRate = mSampleRate
        self.mFormatID = mFormatID
        self.mFormatFlags = mFormatFlags
        self.mBytesPerPacket = mBytesPerPacket
        self.mFramesPerPacket = mFramesPerPacket
        self.mBytesPerFrame = mBytesPerFrame
        self.mChannelsPerFrame = mChannelsPerFrame
        self.mBitsPerChannel = mBitsPerChannel
        self.mReserved = mReserved
    }
}

/// Fills `outASBD` for linear PCM as CoreAudioTypes' inline function does: signed integer or float,
/// packed when the valid bits fill the container, else aligned high; one frame per packet.
public func FillOutASBDForLPCM(_ outASBD: inout AudioStreamBasicDescription, _ inSampleRate: Float64,
                               _ inChannelsPerFrame: UInt32, _ inValidBitsPerChannel: UInt32,
                               _ inTotalBitsPerChannel: UInt32, _ inIsFloat: Bool, _ inIsBigEndian: Bool,
                               _ inIsNonInterleaved: Bool) {
    var flags = inIsFloat ? kAudioFormatFlagIsFloat : kAudioFormatFlagIsSignedInteger
    if inIsBigEndian { flags |= kAudioFormatFlagIsBigEndian }
    flags |= inValidBitsPerChannel == inTotalBitsPerChannel ? kAudioFormatFlagIsPacked : kAudioFormatFlagIsAlignedHigh
    if inIsNonInterleaved { flags |= kAudioFormatFlagIsNonInterleaved }
    let bytes = (inIsNonInterleaved ? 1 : inChannelsPerFrame) * (inTotalBitsPerChannel / 8)
    outASBD = AudioStreamBasicDescription(
        mSampleRate: inSampleRate, mFormatID: kAudioFormatLinearPCM, mFormatFlags: flags,
        mBytesPerPacket: bytes, mFramesPerPacket: 1, mBytesPerFrame: bytes,
        mChannelsPerFrame: inChannelsPerFrame, mBitsPerChannel: inValidBitsPerChannel, mReserved: 0)
}

// MARK: AudioBuffer, AudioBufferList

/// One buffer of audio: `mNumberChannels` interleaved channels in `mDataByteSize` bytes at `mData`.
public struct AudioBuffer {
    public var mNumberChannels: UInt32
    public var mDataByteSize: UInt32
    public var mData: UnsafeMutableRawPointer?

    public init() {
        self.init(mNumberChannels: 0, mDataByteSize: 0, mData: nil)
    }

    public init(mNumberChannels: UInt32, mDataByteSize: UInt32, mData: UnsafeMutableRawPointer?) {
        self.mNumberChannels = mNumberChannels
        self.mDataByteSize = mDataByteSize
        self.mData = mData
    }

    /// A buffer over `typedBuffer`'s memory (the overlay's initializer).
    public init<Element>(_ typedBuffer: UnsafeMutableBufferPointer<Element>, numberOfChannels: Int) {
        self.init(mNumberChannels: UInt32(numberOfChannels),
                  mDataByteSize: UInt32(typedBuffer.count * MemoryLayout<Element>.stride),
                  mData: typedBuffer.baseAddress.map(UnsafeMutableRawPointer.init))
    }
}

/// A variable-length list of audio buffers, laid out as C's: a count, then `mNumberBuffers`
/// `AudioBuffer`s of which the struct declares the first. Reach the others through
/// `UnsafeMutableAudioBufferListPointer`.
public struct AudioBufferList {
    public var mNumberBuffers: UInt32
    public var mBuffers: AudioBuffer

    public init() {
        self.init(mNumberBuffers: 0, mBuffers: AudioBuffer())
    }

    public init(mNumberBuffers: UInt32, mBuffers: AudioBuffer) {
        self.mNumberBuffers = mNumberBuffers
        self.mBuffers = mBuffers
    }

    /// Bytes an `AudioBufferList` with room for `maximumBuffers` buffers takes.
    public static func sizeInBytes(maximumBuffers: Int) -> Int {
        precondition(maximumBuffers >= 1, "AudioBufferList must contain at least one AudioBuffer")
        return MemoryLayout<AudioBufferList>.size - MemoryLayout<AudioBuffer>.size
            + MemoryLayout<AudioBuffer>.size * maximumBuffers
    }

    /// Allocates (zeroed, with `malloc`) a list with room for `maximumBuffers` buffers and its
    /// count set to `maximumBuffers`. Free it with `free(list.unsafeMutablePointer)`.
    public static func allocate(maximumBuffers: Int) -> UnsafeMutableAudioBufferListPointer {
        let size = sizeInBytes(maximumBuffers: maximumBuffers)
        guard let raw = calloc(1, size) else { fatalError("AudioBufferList.allocate: out of memory") }
        let list = raw.bindMemory(to: AudioBufferList.self, capacity: 1)
        list.pointee.mNumberBuffers = UInt32(maximumBuffers)
        return UnsafeMutableAudioBufferListPointer(list)
    }
}

/// A collection view of an `AudioBufferList`'s buffers (the CoreAudio overlay's type).
public struct UnsafeMutableAudioBufferListPointer {
    /// The list this view reads and writes.
    public let unsafeMutablePointer: UnsafeMutablePointer<AudioBufferList>

    public init(_ p: UnsafeMutablePointer<AudioBufferList>) {
        unsafeMutablePointer = p
    }

    public init?(_ p: UnsafeMutablePointer<AudioBufferList>?) {
        guard let p else { return nil }
        self.init(p)
    }

    public var unsafePointer: UnsafePointer<AudioBufferList> { UnsafePointer(unsafeMutablePointer) }

    /// The number of buffers (`mNumberBuffers`).
    public var count: Int {
        get { Int(unsafeMutablePointer.pointee.mNumberBuffers) }
        nonmutating set { unsafeMutablePointer.pointee.mNumberBuffers = UInt32(newValue) }
    }

    /// The first buffer, where C's flexible array begins.
    var audioBuffers: UnsafeMutablePointer<AudioBuffer> {
        (UnsafeMutableRawPointer(unsafeMutablePointer) + MemoryLayout<AudioBufferList>.offset(of: \.mBuffers)!)
            .assumingMemoryBound(to: AudioBuffer.self)
    }
}

extension UnsafeMutableAudioBufferListPointer: MutableCollection, RandomAccessCollection {
    public typealias Index = Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(index: Int) -> AudioBuffer {
        get {
            precondition(index >= 0 && index < count, "AudioBufferList index out of range")
            return audioBuffers[index]
        }
        nonmutating set {
            precondition(index >= 0 && index < count, "AudioBufferList index out of range")
            audioBuffers[index] = newValue
        }
    }
}

extension UnsafeBufferPointer {
    /// The buffer's bytes as elements (`mDataByteSize / stride` of them), as the overlay does.
    public init(_ audioBuffer: AudioBuffer) {
        self.init(start: audioBuffer.mData?.assumingMemoryBound(to: Element.self),
                  count: Int(audioBuffer.mDataByteSize) / MemoryLayout<Element>.stride)
    }
}

extension UnsafeMutableBufferPointer {
    /// The buffer's bytes as elements (`mDataByteSize / stride` of them), as the overlay does.
    public init(_ audioBuffer: AudioBuffer) {
        self.init(start: audioBuffer.mData?.assumingMemoryBound(to: Element.self),
                  count: Int(audioBuffer.mDataByteSize) / MemoryLayout<Element>.stride)
    }
}
