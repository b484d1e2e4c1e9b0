// AVMetadataItem and AVMutableMetadataItem, with AVMetadataIdentifier, AVMetadataKey and
// AVMetadataKeySpace (Apple's raw values): the subset file outputs take as `metadata`.
import CaptureFiles
import Foundation

/// A metadata key space (Apple's extensible string enum).
public struct AVMetadataKeySpace: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Keys common to most formats (`AVMetadataKey.commonKey…`).
    public static let common = AVMetadataKeySpace("comn")
    public static let quickTimeUserData = AVMetadataKeySpace("udta")
    public static let isoUserData = AVMetadataKeySpace("uiso")
    public static let quickTimeMetadata = AVMetadataKeySpace("mdta")
    public static let iTunes = AVMetadataKeySpace("itsk")
    public static let id3 = AVMetadataKeySpace("org.id3")
    public static let icy = AVMetadataKeySpace("icy")
    public static let hlsDateRange = AVMetadataKeySpace("lsdr")
    public static let audioFile = AVMetadataKeySpace("caaf")
}

/// A metadata key (Apple's extensible string enum): the common keys, and the ID3 frames file
/// outputs map onto a file's tags.
public struct AVMetadataKey: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let commonKeyTitle = AVMetadataKey("title")
    public static let commonKeyCreator = AVMetadataKey("creator")
    public static let commonKeySubject = AVMetadataKey("subject")
    public static let commonKeyDescription = AVMetadataKey("description")
    public static let commonKeyPublisher = AVMetadataKey("publisher")
    public static let commonKeyContributor = AVMetadataKey("contributor")
    public static let commonKeyCreationDate = AVMetadataKey("creationDate")
    public static let commonKeyLastModifiedDate = AVMetadataKey("lastModifiedDate")
    public static let commonKeyType = AVMetadataKey("type")
    public static let commonKeyFormat = AVMetadataKey("format")
    public static let commonKeyIdentifier = AVMetadataKey("identifier")
    public static let commonKeySource = AVMetadataKey("source")
    public static let commonKeyLanguage = AVMetadataKey("language")
    public static let commonKeyRelation = AVMetadataKey("relation")
    public static let commonKeyLocation = AVMetadataKey("location")
    public static let commonKeyCopyrights = AVMetadataKey("copyrights")
    public static let commonKeyAlbumName = AVMetadataKey("albumName")
    public static let commonKeyAuthor = AVMetadataKey("author")
    public static let commonKeyArtist = AVMetadataKey("artist")
    public static let commonKeyArtwork = AVMetadataKey("artwork")
    public static let commonKeyMake = AVMetadataKey("make")
    public static let commonKeyModel = AVMetadataKey("model")
    public static let commonKeySoftware = AVMetadataKey("software")
    public static let commonKeyAccessibilityDescription = AVMetadataKey("accessibilityDescription")

    public static let id3MetadataKeyTitleDescription = AVMetadataKey("TIT2")
    public static let id3MetadataKeyLeadPerformer = AVMetadataKey("TPE1")
    public static let id3MetadataKeyComments = AVMetadataKey("COMM")
    public static let id3MetadataKeyRecordingTime = AVMetadataKey("TDRC")
    public static let id3MetadataKeyYear = AVMetadataKey("TYER")
    public static let id3MetadataKeyEncodedWith = AVMetadataKey("TSSE")
    public static let id3MetadataKeyCopyright = AVMetadataKey("TCOP")
    public static let id3MetadataKeyAlbumTitle = AVMetadataKey("TALB")
    public static let id3MetadataKeyContentType = AVMetadataKey("TCON")
    public static let id3MetadataKeyTrackNumber = AVMetadataKey("TRCK")
}

/// A metadata identifier (Apple's extensible string enum): "key space/key", e.g. "common/title".
public struct AVMetadataIdentifier: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let commonIdentifierTitle = AVMetadataIdentifier("common/title")
    public static let commonIdentifierCreator = AVMetadataIdentifier("common/creator")
    public static let commonIdentifierSubject = AVMetadataIdentifier("common/subject")
    public static let commonIdentifierDescription = AVMetadataIdentifier("common/description")
    public static let commonIdentifierPublisher = AVMetadataIdentifier("common/publisher")
    public static let commonIdentifierContributor = AVMetadataIdentifier("common/contributor")
    public static let commonIdentifierCreationDate = AVMetadataIdentifier("common/creationDate")
    public static let commonIdentifierLastModifiedDate = AVMetadataIdentifier("common/lastModifiedDate")
    public static let commonIdentifierType = AVMetadataIdentifier("common/type")
    public static let commonIdentifierFormat = AVMetadataIdentifier("common/format")
    public static let commonIdentifierAssetIdentifier = AVMetadataIdentifier("common/identifier")
    public static let commonIdentifierSource = AVMetadataIdentifier("common/source")
    public static let commonIdentifierLanguage = AVMetadataIdentifier("common/language")
    public static let commonIdentifierRelation = AVMetadataIdentifier("common/relation")
    public static let commonIdentifierLocation = AVMetadataIdentifier("common/location")
    public static let commonIdentifierCopyrights = AVMetadataIdentifier("common/copyrights")
    public static let commonIdentifierAlbumName = AVMetadataIdentifier("common/albumName")
    public static let commonIdentifierAuthor = AVMetadataIdentifier("common/author")
    public static let commonIdentifierArtist = AVMetadataIdentifier("common/artist")
    public static let commonIdentifierArtwork = AVMetadataIdentifier("common/artwork")
    public static let commonIdentifierMake = AVMetadataIdentifier("common/make")
    public static let commonIdentifierModel = AVMetadataIdentifier("common/model")
    public static let commonIdentifierSoftware = AVMetadataIdentifier("common/software")
    public static let commonIdentifierAccessibilityDescription = AVMetadataIdentifier("common/accessibilityDescription")

    public static let id3MetadataTitleDescription = AVMetadataIdentifier("id3/TIT2")
    public static let id3MetadataLeadPerformer = AVMetadataIdentifier("id3/TPE1")
    public static let id3MetadataComments = AVMetadataIdentifier("id3/COMM")
    public static let id3MetadataRecordingTime = AVMetadataIdentifier("id3/TDRC")
    public static let id3MetadataYear = AVMetadataIdentifier("id3/TYER")
    public static let id3MetadataEncodedWith = AVMetadataIdentifier("id3/TSSE")
    public static let id3MetadataCopyright = AVMetadataIdentifier("id3/TCOP")
    public static let id3MetadataAlbumTitle = AVMetadataIdentifier("id3/TALB")
    public static let id3MetadataContentType = AVMetadataIdentifier("id3/TCON")
    public static let id3MetadataTrackNumber = AVMetadataIdentifier("id3/TRCK")
}

/// One piece of metadata: an identifier (or a key in a key space) and a value (Apple's
/// `AVMetadataItem`). Items are made with `AVMutableMetadataItem`.
///
/// Linux: the identifier, key space, key and value are kept as given; no asset loads them, so
/// the asynchronous loading API is absent. `commonKey` is set for items in the common key space.
public class AVMetadataItem: NSObject, NSCopying, NSMutableCopying {
    fileprivate var _identifier: AVMetadataIdentifier?
    fileprivate var _keySpace: AVMetadataKeySpace?
    fileprivate var _key: (any NSCopying & NSObjectProtocol)?
    fileprivate var _value: (any NSCopying & NSObjectProtocol)?
    fileprivate var _extendedLanguageTag: String?
    fileprivate var _locale: Locale?
    fileprivate var _time = CMTime.invalid
    fileprivate var _duration = CMTime.invalid
    fileprivate var _dataType: String?

    override public init() { super.init() }

    /// The identifier: as set, or made from the key space and key.
    public var identifier: AVMetadataIdentifier? {
        _identifier ?? _keySpace.flatMap { space in _key.flatMap { Self.identifier(forKey: $0, keySpace: space) } }
    }
    /// The key space: as set, or the identifier's.
    public var keySpace: AVMetadataKeySpace? { _keySpace ?? _identifier.flatMap(Self.keySpace(forIdentifier:)) }
    /// The key: as set, or the identifier's (an `NSString`).
    public var key: (any NSCopying & NSObjectProtocol)? {
        _key ?? _identifier.flatMap { Self.key(forIdentifier: $0) as? NSString }
    }
    /// The key in the common key space, for items in it.
    public var commonKey: AVMetadataKey? {
        guard keySpace == .common, let k = key as? NSString else { return nil }
        return AVMetadataKey(String(describing: k))
    }
    public var value: (any NSCopying & NSObjectProtocol)? { _value }
    public var extendedLanguageTag: String? { _extendedLanguageTag }
    public var locale: Locale? { _locale }
    public var time: CMTime { _time }
    public var duration: CMTime { _duration }
    public var dataType: String? { _dataType }

    /// The value as a string: a string as is, a number's decimal form, a date in ISO 8601.
    public var stringValue: String? {
        switch value {
        case let s as NSString: return String(describing: s)
        case let n as NSNumber: return n.stringValue
        case let d as NSDate: return ISO8601DateFormatter().string(from: d as Date)
        default: return nil
        }
    }
    /// The value as a number: a number, or a string that reads as one.
    public var numberValue: NSNumber? {
        switch value {
        case let n as NSNumber: return n
        case let s as NSString: return Double(String(describing: s)).map { NSNumber(value: $0) }
        default: return nil
        }
    }
    /// The value as a date: a date, or an ISO 8601 string.
    public var dateValue: Date? {
        switch value {
        case let d as NSDate: return d as Date
        case let s as NSString: return ISO8601DateFormatter().date(from: String(describing: s))
        default: return nil
        }
    }
    /// The value as data: data, or a string's UTF-8 bytes.
    public var dataValue: Data? {
        switch value {
        case let d as NSData: return d as Data
        case let s as NSString: return String(describing: s).data(using: .utf8)
        default: return nil
        }
    }

    public func copy(with zone: NSZone? = nil) -> Any { copyFields(into: AVMetadataItem()) }
    public func mutableCopy(with zone: NSZone? = nil) -> Any { copyFields(into: AVMutableMetadataItem()) }

    private func copyFields<T: AVMetadataItem>(into item: T) -> T {
        item._identifier = _identifier; item._keySpace = _keySpace; item._key = _key; item._value = _value
        item._extendedLanguageTag = _extendedLanguageTag; item._locale = _locale
        item._time = _time; item._duration = _duration; item._dataType = _dataType
        return item
    }

    /// The items of `items` with `identifier`.
    public class func metadataItems(from items: [AVMetadataItem], filteredByIdentifier identifier: AVMetadataIdentifier) -> [AVMetadataItem] {
        items.filter { $0.identifier == identifier }
    }

    /// The items of `items` with `key` (nil: any) in `keySpace` (nil: any).
    public class func metadataItems(from items: [AVMetadataItem], withKey key: Any?, keySpace: AVMetadataKeySpace?) -> [AVMetadataItem] {
        let wanted = key.map { Self.keyString($0) }
        return items.filter { item in
            (keySpace == nil || item.keySpace == keySpace)
                && (wanted == nil || item.key.map { Self.keyString($0) } == wanted)
        }
    }

    /// The identifier for `key` in `keySpace`: "common/…" for the common key space, "id3/…" for
    /// ID3, else the key space's code; characters outside printable ASCII, "%" and "/" are
    /// escaped as %XX (a key's Latin-1 byte, as Apple escapes "©nam" to "%A9nam").
    public class func identifier(forKey key: Any, keySpace: AVMetadataKeySpace) -> AVMetadataIdentifier? {
        let k = keyString(key)
        guard !k.isEmpty else { return nil }
        let prefix = keySpace == .common ? "common" : keySpace == .id3 ? "id3" : keySpace.rawValue
        var escaped = ""
        for u in k.unicodeScalars {
            if u.value > 0x20 && u.value < 0x7F && u != "%" && u != "/" { escaped.unicodeScalars.append(u); continue }
            let bytes: [UInt8] = u.value <= 0xFF ? [UInt8(u.value)] : Array(String(u).utf8)
            for b in bytes { escaped += "%" + String(b, radix: 16, uppercase: true).leftPadded(2) }
        }
        return AVMetadataIdentifier(prefix + "/" + escaped)
    }

    /// The key space an identifier names (nil if it isn't "space/key").
    public class func keySpace(forIdentifier identifier: AVMetadataIdentifier) -> AVMetadataKeySpace? {
        guard let slash = identifier.rawValue.firstIndex(of: "/") else { return nil }
        let prefix = String(identifier.rawValue[..<slash])
        return prefix == "common" ? .common : prefix == "id3" ? .id3 : AVMetadataKeySpace(prefix)
    }

    /// The key an identifier names, unescaped (an `NSString`; nil if it isn't "space/key").
    public class func key(forIdentifier identifier: AVMetadataIdentifier) -> Any? {
        guard let slash = identifier.rawValue.firstIndex(of: "/") else { return nil }
        let escaped = identifier.rawValue[identifier.rawValue.index(after: slash)...]
        var out = String.UnicodeScalarView()
        var i = escaped.startIndex
        while i < escaped.endIndex {
            if escaped[i] == "%", let end = escaped.index(i, offsetBy: 3, limitedBy: escaped.endIndex),
               let b = UInt8(escaped[escaped.index(after: i)..<end], radix: 16) {
                out.append(Unicode.Scalar(b))
                i = end
            } else {
                out.append(contentsOf: escaped[i].unicodeScalars)
                i = escaped.index(after: i)
            }
        }
        return NSString(string: String(out))
    }

    static func keyString(_ key: Any) -> String {
        switch key {
        case let s as String: return s
        case let s as NSString: return String(describing: s)
        case let k as AVMetadataKey: return k.rawValue
        default: return String(describing: key)
        }
    }
}

/// A metadata item whose identifier, key, value and attributes can be set (Apple's
/// `AVMutableMetadataItem`): `AVMutableMetadataItem()`, then set `identifier` (or `keySpace`
/// and `key`) and `value`.
public class AVMutableMetadataItem: AVMetadataItem {
    override public init() { super.init() }

    public class func metadataItem() -> AVMutableMetadataItem { AVMutableMetadataItem() }

    /// Setting it replaces a key space and key set before (they are read from it).
    override public var identifier: AVMetadataIdentifier? {
        get { super.identifier }
        set { _identifier = newValue; _keySpace = nil; _key = nil }
    }
    /// Setting it (or `key`) replaces an identifier set before (it is made from both).
    override public var keySpace: AVMetadataKeySpace? {
        get { super.keySpace }
        set {
            if let id = _identifier { _key = Self.key(forIdentifier: id) as? NSString; _identifier = nil }
            _keySpace = newValue
        }
    }
    override public var key: (any NSCopying & NSObjectProtocol)? {
        get { super.key }
        set {
            if let id = _identifier { _keySpace = Self.keySpace(forIdentifier: id); _identifier = nil }
            _key = newValue
        }
    }
    override public var value: (any NSCopying & NSObjectProtocol)? {
        get { super.value }
        set { _value = newValue }
    }
    override public var extendedLanguageTag: String? {
        get { super.extendedLanguageTag }
        set { _extendedLanguageTag = newValue }
    }
    override public var locale: Locale? {
        get { super.locale }
        set { _locale = newValue }
    }
    override public var time: CMTime {
        get { super.time }
        set { _time = newValue }
    }
    override public var duration: CMTime {
        get { super.duration }
        set { _duration = newValue }
    }
    override public var dataType: String? {
        get { super.dataType }
        set { _dataType = newValue }
    }
}

extension AVMetadataItem {
    /// The file tag each identifier maps onto (common and ID3 identifiers).
    static let fileTagFor: [AVMetadataIdentifier: FileTag] = [
        .commonIdentifierTitle: .title, .id3MetadataTitleDescription: .title,
        .commonIdentifierArtist: .artist, .commonIdentifierCreator: .artist, .commonIdentifierAuthor: .artist,
        .id3MetadataLeadPerformer: .artist,
        .commonIdentifierDescription: .comment, .id3MetadataComments: .comment,
        .commonIdentifierCreationDate: .date, .id3MetadataRecordingTime: .date, .id3MetadataYear: .date,
        .commonIdentifierSoftware: .software, .id3MetadataEncodedWith: .software,
        .commonIdentifierCopyrights: .copyright, .id3MetadataCopyright: .copyright,
        .commonIdentifierAlbumName: .album, .id3MetadataAlbumTitle: .album,
        .id3MetadataContentType: .genre,
        .id3MetadataTrackNumber: .trackNumber,
    ]

    /// The file tags `items` give: for each tag, the first item that maps onto it and has a
    /// string value (`stringValue`: strings, numbers, dates in ISO 8601). Others are skipped.
    static func fileTags(from items: [AVMetadataItem]) -> [FileTag: String] {
        var tags: [FileTag: String] = [:]
        for item in items {
            guard let id = item.identifier, let tag = fileTagFor[id], tags[tag] == nil,
                  let s = item.stringValue, !s.isEmpty else { continue }
            tags[tag] = s
        }
        return tags
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
