// A crash-safe record of a recording's markers: `take.wav.markers` beside `take.wav`.
//
// Cue points (AIFF: a MARK chunk) can only be appended once the audio is finished, so until
// then the markers live in this small text file, written when they change and synced with the
// recording's checkpoint sync. W64, CAF and FLAC have no cues libsndfile writes: for them this
// file is where the markers stay. Format (UTF-8, one record per line, "\n"-terminated):
//
//     capdeck-markers 1
//     FRAME<TAB>LABEL
//
// FRAME is the decimal frame position; in LABEL a backslash, tab, newline and carriage return
// are written `\\`, `\t`, `\n`, `\r`. A torn last line (no "\n") is ignored. For WAV and AIFF,
// `finish` folds the markers into the file as cue points and removes the sidecar; so does `recover`.
import CaptureCore
import Glibc

public enum MarkerSidecar {
    static let magic = "capdeck-markers 1"

    public static func path(for recording: String) -> String { recording + ".markers" }

    static func line(_ m: RecordingMarker) -> String {
        return "\(m.frame)\t\(FieldEscaping.escape(m.label))\n"
    }

    static func parse(_ text: String) -> [RecordingMarker]? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(magic) else { return nil }
        lines.removeFirst()
        lines.removeLast()  // a torn last line, or the "" after the final newline
        var out: [RecordingMarker] = []
        for l in lines {
            guard let tab = l.firstIndex(of: "\t"), let frame = Int(l[..<tab]) else { continue }
            let label = FieldEscaping.unescape(l[l.index(after: tab)...])
            out.append(RecordingMarker(frame: frame, label: label))
        }
        return out
    }

    /// Creates the sidecar (never overwriting, never through a symlink, 0600) with its first line.
    static func create(for recording: String) -> Int32? {
        let fd = open(path(for: recording), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        guard write(fd, magic + "\n") else { close(fd); unlink(path(for: recording)); return nil }
        return fd
    }

    static func write(_ fd: Int32, _ s: String) -> Bool {
        let bytes = Array(s.utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count
    }

    /// The markers of the sidecar beside `recording`: nil if there is none (or it isn't ours).
    static func read(for recording: String) -> [RecordingMarker]? {
        let fd = open(path(for: recording), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size < 64 << 20 else { return nil }
        var b = [UInt8](repeating: 0, count: Int(st.st_size))
        guard pread(fd, &b, b.count, 0) == b.count else { return nil }
        return parse(String(decoding: b, as: UTF8.self))
    }
}
