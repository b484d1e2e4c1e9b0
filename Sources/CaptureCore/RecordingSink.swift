// Where the writer queue puts captured frames: implemented over libsndfile by CaptureFiles.

/// Why a recording could not be created or written.
public enum RecordingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file already exists (never overwritten).
    case exists(path: String)
    /// The file could not be created (directory missing, permission, read-only filesystem…).
    case cannotCreate(path: String, reason: String)
    /// The requested file type cannot hold this stream format.
    case unsupportedFormat(type: String, format: String, reason: String)
    /// Writing failed mid-recording; `framesSaved` whole frames are in the file.
    case writeFailed(path: String, reason: String, framesSaved: Int)
    /// The disk filled up; `framesSaved` whole frames are in the file.
    case diskFull(path: String, framesSaved: Int)
    /// The file was deleted while recording (or its directory removed). Recording stopped; the
    /// `framesSaved` frames recorded were copied to `rescuedTo`, or, if nil, could not be;
    /// `reason` says why, or (with a copy) what went wrong finishing the file first.
    case vanished(path: String, framesSaved: Int, rescuedTo: String?, reason: String?)
    /// Frames arrive in another format than the file was written in (a file output reused by a
    /// session whose input has another format): recording stopped and the file was finished
    /// with its `framesSaved` frames in `recorded`; nothing of `delivered` was written.
    case formatMismatch(path: String, recorded: String, delivered: String, framesSaved: Int)
    /// The container can't describe a longer file (AIFF's 32-bit sizes stop it at 4 GiB):
    /// recording stopped and the file was finished with the `framesSaved` frames that fit.
    case containerFull(path: String, type: String, limit: String, framesSaved: Int)

    public var description: String {
        switch self {
        case .exists(let p): "\(p): file exists (CaptureDeck never overwrites a recording)"
        case .cannotCreate(let p, let r): "\(p): cannot create recording: \(r)"
        case .unsupportedFormat(let t, let f, let r): "\(t) cannot hold \(f): \(r)"
        case .writeFailed(let p, let r, let n): "\(p): write failed after \(n) frames: \(r)"
        case .diskFull(let p, let n): "\(p): disk full; recording stopped and saved with \(n) frames"
        case .vanished(let p, let n, let to?, nil):
            "\(p) was deleted while recording; recording stopped and all \(n) frames saved to \(to)"
        case .vanished(let p, let n, let to?, let r?):
            "\(p) was deleted while recording; recording stopped and its \(n) frames copied to \(to), which may be incomplete: \(r)"
        case .formatMismatch(let p, let rec, let del, let n):
            "\(p) holds \(rec) but the session now delivers \(del); recording stopped and saved with \(n) frames"
        case .containerFull(let p, let t, let l, let n):
            "\(p): \(t) holds at most \(l); recording stopped and saved with \(n) frames (for longer recordings use -t wav, w64 or caf)"
        case .vanished(let p, let n, nil, let r):
            "\(p) was deleted while recording; recording stopped; the \(n) frames recorded are lost: \(r ?? "could not copy them")"
        }
    }
}

/// A recording being written. Threading: every method is called on the writer queue only.
public protocol RecordingSink: AnyObject {
    /// The path of the file being written.
    var path: String { get }
    /// The format frames must be in when handed to `write`.
    var format: StreamFormat { get }
    /// Whole frames written so far.
    var framesWritten: Int { get }
    /// Appends interleaved frames.
    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError)
    /// Brings the header up to date and syncs data to disk (called about once a second).
    func checkpoint() throws(RecordingError)
    /// Writes the final header and closes the file. Safe to call more than once.
    func finish() throws(RecordingError)
    /// Adds a marker (cue point) to be written with the file, where the container supports it.
    func addMarker(_ marker: RecordingMarker)
}

extension RecordingSink {
    public func addMarker(_ marker: RecordingMarker) {}
}

/// A labelled position in a recording (a WAV cue point).
public struct RecordingMarker: Equatable, Sendable {
    public var frame: Int
    public var label: String
    /// A route change's marker carries the new route, for the file's metadata (`RouteNote`).
    public var route: RouteNote?
    public init(frame: Int, label: String, route: RouteNote? = nil) {
        self.frame = frame
        self.label = label
        self.route = route
    }
}
