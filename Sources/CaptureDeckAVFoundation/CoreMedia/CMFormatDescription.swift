// CMFormatDescription / CMAudioFormatDescription: a media type, subtype and (for audio) the
// stream's AudioStreamBasicDescription, with CoreMedia's C functions and the Swift-era members.
import Foundation

public typealias CMMediaType = FourCharCode
public typealias CMItemCount = Int
public typealias CMItemIndex = Int

public var kCMMediaType_Video: CMMediaType { 0x7669_6465 }  // 'vide'
public var kCMMediaType_Audio: CMMediaType { 0x736F_756E }  // 'soun'
public var kCMMediaType_Muxed: CMMediaType { 0x6D75_7878 }  // 'muxx'
public var kCMMediaType_Text: CMMediaType { 0x7465_7874 }  // 'text'
public var kCMMediaType_ClosedCaption: CMMediaType { 0x636C_6370 }  // 'clcp'
public var kCMMediaType_Subtitle: CMMediaType { 0x7362_746C }  // 'sbtl'
public var kCMMediaType_TimeCode: CMMediaType { 0x746D_6364 }  // 'tmcd'
public var kCMMediaType_Metadata: CMMediaType { 0x6D65_7461 }  // 'meta'

/// Describes the media in a sample buffer. Immutable; `@unchecked Sendable` because its one
/// pointer (the ASBD) is written in `init` only and freed in `deinit`.
public final class CMFormatDescription: @unchecked Sendable {
    let mediaTypeCode: CMMediaType
    let mediaSubTypeCode: FourCharCode
    /// Heap-allocated so `CMAudioFormatDescriptionGetStreamBasicDescription`'s pointer stays valid
    /// while the description lives, as Apple documents.
    private let asbd: UnsafeMutablePointer<AudioStreamBasicDescription>?

    /// An audio format description of `asbd`.
    init(audio asbd: AudioStreamBasicDescription) {
        mediaTypeCode = kCMMediaType_Audio
        mediaSubTypeCode = asbd.mFormatID
        let p = UnsafeMutablePointer<AudioStreamBasicDescription>.allocate(capacity: 1)
        p.initialize(to: asbd)
        self.asbd = p
    }

    deinit { asbd?.deallocate() }

    var streamBasicDescription: UnsafePointer<AudioStreamBasicDescription>? { asbd.map { UnsafePointer($0) } }

    /// A media type's four-character code (Apple's `CMFormatDescription.MediaType`).
    public struct MediaType: RawRepresentable, Hashable, Sendable {
        public let rawValue: FourCharCode
        public init(rawValue: FourCharCode) { self.rawValue = rawValue }
        public init(_ rawValue: FourCharCode) { self.rawValue = rawValue }

        public static let audio = MediaType(kCMMediaType_Audio)
        public static let video = MediaType(kCMMediaType_Video)
        public static let muxed = MediaType(kCMMediaType_Muxed)
        public static let text = MediaType(kCMMediaType_Text)
        public static let closedCaption = MediaType(kCMMediaType_ClosedCaption)
        public static let subtitle = MediaType(kCMMediaType_Subtitle)
        public static let timeCode = MediaType(kCMMediaType_TimeCode)
        public static let metadata = MediaType(kCMMediaType_Metadata)
    }

    /// A media subtype's four-character code; for audio, the `AudioFormatID`.
    public struct MediaSubType: RawRepresentable, Hashable, Sendable {
        public let rawValue: FourCharCode
        public init(rawValue: FourCharCode) { self.rawValue = rawValue }
        public init(_ rawValue: FourCharCode) { self.rawValue = rawValue }

        public static let linearPCM = MediaSubType(kAudioFormatLinearPCM)
        public static let appleLossless = MediaSubType(kAudioFormatAppleLossless)
        public static let mpeg4AAC = MediaSubType(kAudioFormatMPEG4AAC)
        public static let flac = MediaSubType(kAudioFormatFLAC)
        public static let opus = MediaSubType(kAudioFormatOpus)
    }

    public var mediaType: MediaType { MediaType(mediaTypeCode) }
    public var mediaSubType: MediaSubType { MediaSubType(mediaSubTypeCode) }
    /// The stream's description, for an audio format description; nil otherwise.
    public var audioStreamBasicDescription: AudioStreamBasicDescription? { asbd?.pointee }
}

/// Apple's audio format descriptions are format descriptions of audio media (a typealias there too).
public typealias CMAudioFormatDescription = CMFormatDescription

public func CMFormatDescriptionGetMediaType(_ desc: CMFormatDescription) -> CMMediaType {
    desc.mediaTypeCode
}

public func CMFormatDescriptionGetMediaSubType(_ desc: CMFormatDescription) -> FourCharCode {
    desc.mediaSubTypeCode
}

/// A read-only pointer to the ASBD, valid while `desc` lives; nil for a non-audio description.
public func CMAudioFormatDescriptionGetStreamBasicDescription(_ desc: CMAudioFormatDescription) -> UnsafePointer<AudioStreamBasicDescription>? {
    desc.streamBasicDescription
}

/// Whether two descriptions describe the same media: same type, subtype and ASBD fields.
public func CMFormatDescriptionEqual(_ formatDescription: CMFormatDescription?, otherFormatDescription: CMFormatDescription?) -> Bool {
    guard let a = formatDescription, let b = otherFormatDescription else { return false }
    if a === b { return true }
    guard a.mediaTypeCode == b.mediaTypeCode, a.mediaSubTypeCode == b.mediaSubTypeCode else { return false }
    switch (a.audioStreamBasicDescription, b.audioStreamBasicDescription) {
    case (nil, nil): return true
    case let (x?, y?):
        return x.mSampleRate == y.mSampleRate && x.mFormatID == y.mFormatID && x.mFormatFlags == y.mFormatFlags
            && x.mBytesPerPacket == y.mBytesPerPacket && x.mFramesPerPacket == y.mFramesPerPacket
            && x.mBytesPerFrame == y.mBytesPerFrame && x.mChannelsPerFrame == y.mChannelsPerFrame
            && x.mBitsPerChannel == y.mBitsPerChannel
    default: return false
    }
}
