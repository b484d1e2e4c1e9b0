// The bext Description's rule, shared by the command line and the config file.

/// A WAV/RF64 bext Description: at most 256 bytes (EBU Tech 3285). UTF-8 is kept as it is
/// (Tech 3285 asks for ASCII; ffprobe, wavinfo and BWF MetaEdit show UTF-8); longer text is
/// refused rather than cut.
public enum BroadcastDescription {
    public static let limit = 256

    /// nil, or why `text` can't be a Description (one line, for the user).
    public static func problem(_ text: String) -> String? {
        let n = text.utf8.count
        if n > limit { return "at most \(limit) bytes (this one has \(n))" }
        if text.utf8.contains(0) { return "contains a NUL byte" }
        return nil
    }
}
