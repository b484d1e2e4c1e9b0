// Where a recording goes: an explicit file, or a pattern-made name in a directory.
import CaptureCore
import CaptureDeck
import CaptureFiles
import ConsoleUI
import Glibc

public struct OutputTarget: Sendable {
    public enum Kind: Sendable {
        case explicit(String)
        case pattern(directory: String, base: String)
    }
    public let kind: Kind
    /// The strftime pattern names are made from.
    public let pattern: String

    public init(file: String?, outputDir: String?, pattern: String, fileType: FileType) throws {
        let env = Environment.current
        self.pattern = pattern
        if let file {
            // As cp and arecord take it: relative to the current directory (-o is where pattern
            // names go). An extension-less name gets the type's (`-t wav take`: take.wav).
            kind = .explicit(OutputTarget.extensionOf(file) == nil ? file + "." + fileType.fileExtension : file)
            return
        }
        let dir: String
        if let outputDir {
            dir = outputDir
            var st = stat()
            if let e = failure({ stat(dir, &st) }) {
                throw Failure("-o/--output-dir \(dir): \(e)", code: .cannotCreate)
            }
            if (st.st_mode & S_IFMT) != S_IFDIR {
                throw Failure("-o/--output-dir \(dir): not a directory", code: .cannotCreate)
            }
        } else {
            if env["XDG_DATA_HOME"]?.hasPrefix("/") != true && (env["HOME"] ?? "").isEmpty {
                throw Failure("HOME is not set, so there is no default recordings directory; name one with -o", code: .cannotCreate)
            }
            dir = FileNaming.defaultDirectory(environment: env)
            try OutputTarget.makeDirectories(dir)
        }
        let base: String
        do throws(FileNaming.PatternError) {
            base = try FileNaming.expand(pattern: pattern, time: time(nil))
        } catch {
            throw Failure("--name: \(error)", code: .usage)
        }
        kind = .pattern(directory: dir, base: OutputTarget.withoutExtension(base, of: fileType))
    }

    /// The extension of a path's last component (`take.wav`: `wav`), nil when it has none
    /// (`take`, `.hidden`, `dir.d/take`).
    public static func extensionOf(_ path: String) -> String? {
        let last = path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path)
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex, last.index(after: dot) != last.endIndex else { return nil }
        return String(last[last.index(after: dot)...])
    }

    /// A name without an extension that names `type` (`take.wav`, `take.WAV`, `take.rf64` for
    /// wav), so the type's own isn't added twice (`--name take.wav`: take.wav, not take.wav.wav).
    public static func withoutExtension(_ name: String, of type: FileType) -> String {
        guard let ext = extensionOf(name), FileType(name: ext) == type else { return name }
        return String(name.dropLast(ext.count + 1))
    }

    /// The file type: `-t`, else FILE's extension, else the name pattern's (`--name take.flac`),
    /// else WAV. (A mismatch between them is refused by the command line first.)
    public static func fileType(given: FileType?, file: String?, pattern: String) -> FileType {
        given ?? file.flatMap(extensionOf).flatMap(FileType.init(name:))
            ?? (file == nil ? extensionOf(pattern).flatMap(FileType.init(name:)) : nil) ?? .wav
    }

    /// Starts `output` recording into a new file, created exclusively. A pattern name that
    /// collides gets a number; an explicit name that exists is an error (exit 73). `broadcast`:
    /// the WAV/RF64 bext chunk.
    public func start(_ output: CaptureAudioFileOutput, fileType: FileType, broadcast: BroadcastInfo? = nil) throws -> String {
        switch kind {
        case .explicit(let path):
            do throws(RecordingError) {
                try output.startRecording(to: path, fileType: fileType, broadcast: broadcast)
                return path
            } catch {
                throw Failure(error.description, code: .cannotCreate)
            }
        case .pattern(let dir, let base):
            for attempt in 0..<10_000 {
                let path = dir + "/" + FileNaming.candidate(base: base, fileExtension: fileType.fileExtension, attempt: attempt)
                do throws(RecordingError) {
                    try output.startRecording(to: path, fileType: fileType, broadcast: broadcast)
                    return path
                } catch {
                    if case .exists = error { continue }
                    throw Failure(error.description, code: .cannotCreate)
                }
            }
            throw Failure("\(dir)/\(base): 10000 names taken; choose another --name", code: .cannotCreate)
        }
    }

    /// Where a triggered take goes: take 1 to the explicit file, take k to its `-(k-1)`
    /// candidate (`take.wav`, `take-1.wav`, …); with a pattern, the pattern expanded at the take's
    /// start (the default's seconds tell takes apart) and its collision numbers. `attempt` counts
    /// names found taken (never overwritten: the next candidate). nil after 10000.
    public func takePath(take: Int, attempt: Int, fileType: FileType) -> String? {
        guard attempt < 10_000 else { return nil }
        switch kind {
        case .explicit(let path):
            let n = take - 1 + attempt
            guard n > 0 else { return path }
            let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
            let dot = path[slash...].lastIndex(of: ".") ?? path.endIndex
            return FileNaming.candidate(base: String(path[..<dot]), fileExtension: String(path[dot...].dropFirst()), attempt: n)
        case .pattern(let dir, let base):
            let name = (try? FileNaming.expand(pattern: pattern, time: time(nil))) ?? base
            return dir + "/" + FileNaming.candidate(base: name, fileExtension: fileType.fileExtension, attempt: attempt)
        }
    }

    /// What the takes' names look like, for the start line.
    public var takesDescription: String {
        switch kind {
        case .explicit(let path): path
        case .pattern(let dir, _): dir + "/" + pattern
        }
    }

    /// The directory the takes go in (`.` for a bare relative FILE).
    public var directory: String {
        switch kind {
        case .explicit(let path):
            guard let slash = path.lastIndex(of: "/") else { return "." }
            return slash == path.startIndex ? "/" : String(path[..<slash])
        case .pattern(let dir, _): return dir
        }
    }

    /// Bytes free to an unprivileged writer on the file system holding `directory` (nil: unknown).
    public static func freeBytes(at directory: String) -> Int64? {
        var vfs = statvfs()
        return statvfs(directory, &vfs) == 0 ? Int64(vfs.f_bavail) * Int64(vfs.f_frsize) : nil
    }

    /// The warning for a recording of `frames` at `format` that can't fit in `free` bytes, or nil
    /// when it fits (or the type compresses, so its size can't be told up front).
    public static func spaceWarning(frames: Int, format: StreamFormat, fileType: FileType, free: Int64?, directory: String) -> String? {
        guard fileType != .flac, let free else { return nil }
        let needed = Int64(frames) * Int64(format.bytesPerFrame)
        guard needed > free else { return nil }
        let seconds = Double(frames) / Double(format.sampleRate)
        return "warning: \(Readout.duration(seconds)) at \(format) needs about \(Readout.bytes(needed)); \(directory) has \(Readout.bytes(free)) free, so the recording will stop when the disk is full (it goes on until then)"
    }

    /// mkdir -p with owner-only permissions for directories we create.
    public static func makeDirectories(_ path: String) throws {
        if let failed = Directories.create(path) {
            throw Failure("cannot create directory \(failed.path): \(failed.errno)", code: .cannotCreate)
        }
    }
}
