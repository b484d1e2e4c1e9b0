// AVMediaType, AVFileType and AVAuthorizationStatus with Apple's raw values.
import Foundation

/// A media type (Apple's extensible string enum): the four-character code as a string.
public struct AVMediaType: RawRepresentable, Hashable, Sendable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let audio = AVMediaType("soun")
    public static let video = AVMediaType("vide")
    public static let text = AVMediaType("text")
    public static let closedCaption = AVMediaType("clcp")
    public static let subtitle = AVMediaType("sbtl")
    public static let timecode = AVMediaType("tmcd")
    public static let metadata = AVMediaType("meta")
    public static let muxed = AVMediaType("muxx")
    public static let metadataObject = AVMediaType("mobj")
    public static let depthData = AVMediaType("dpth")
}

/// A file type (Apple's extensible string enum): the file format's UTI.
///
/// Every constant Apple declares is here so code naming one compiles; which ones an output can
/// write is its `availableOutputFileTypes()` (on Linux: `.wav`, `.caf`, `.aiff`).
public struct AVFileType: RawRepresentable, Hashable, Sendable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// QuickTime movie (.mov, .qt).
    public static let mov = AVFileType("com.apple.quicktime-movie")
    /// MPEG-4 (.mp4).
    public static let mp4 = AVFileType("public.mpeg-4")
    /// .m4v
    public static let m4v = AVFileType("com.apple.m4v-video")
    /// .m4a
    public static let m4a = AVFileType("com.apple.m4a-audio")
    /// 3GPP (.3gp, .3gpp, .sdv).
    public static let mobile3GPP = AVFileType("public.3gpp")
    /// 3GPP2 (.3g2, .3gp2).
    public static let mobile3GPP2 = AVFileType("public.3gpp2")
    /// Core Audio Format (.caf).
    public static let caf = AVFileType("com.apple.coreaudio-format")
    /// WAVE (.wav, .wave, .bwf).
    public static let wav = AVFileType("com.microsoft.waveform-audio")
    /// AIFF (.aif, .aiff).
    public static let aiff = AVFileType("public.aiff-audio")
    /// AIFC (.aifc, .cdda).
    public static let aifc = AVFileType("public.aifc-audio")
    /// Adaptive multi-rate audio (.amr).
    public static let amr = AVFileType("org.3gpp.adaptive-multi-rate-audio")
    /// MPEG layer 3 (.mp3).
    public static let mp3 = AVFileType("public.mp3")
    /// Sun/NeXT audio (.au, .snd).
    public static let au = AVFileType("public.au-audio")
    /// AC-3 (.ac3).
    public static let ac3 = AVFileType("public.ac3-audio")
    /// Enhanced AC-3 (.eac3).
    public static let eac3 = AVFileType("public.enhanced-ac3-audio")
    /// JPEG (.jpg, .jpeg).
    public static let jpg = AVFileType("public.jpeg")
    /// Adobe digital negative (.dng).
    public static let dng = AVFileType("com.adobe.raw-image")
    /// HEIC (.heic).
    public static let heic = AVFileType("public.heic")
    /// AVCI (.avci).
    public static let avci = AVFileType("public.avci")
    /// HEIF (.heif).
    public static let heif = AVFileType("public.heif")
    /// TIFF (.tif, .tiff).
    public static let tif = AVFileType("public.tiff")
}

/// Whether the user has let this application capture a media type
/// (`AVCaptureDevice.authorizationStatus(for:)`).
public enum AVAuthorizationStatus: Int, Sendable {
    /// The user has not been asked yet.
    case notDetermined = 0
    /// The user can't grant access (a policy forbids it).
    case restricted = 1
    /// The user denied access.
    case denied = 2
    /// The user granted access.
    case authorized = 3
}
