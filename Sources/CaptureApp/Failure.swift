// A user-facing failure: one line on stderr and a sysexits-style exit code; and that stderr line.
import Glibc

/// sysexits(3) codes used by capdeck.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    /// The system itself failed us (EX_OSERR): no descriptor left to start with.
    case osError = 71
    case cannotCreate = 73
    case ioError = 74
    case config = 78
}

public struct Failure: Error {
    public let message: String
    public let code: ExitStatus

    public init(_ message: String, code: ExitStatus) {
        self.message = message
        self.code = code
    }

    public func report() { Terminal.error(message) }
}

/// stderr output shared by the commands.
public enum Terminal {
    /// One line, always: any newline inside the message (from a library's text) is folded.
    public static func error(_ message: String) {
        let flat = String(message.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
        write("capdeck: \(flat)\n")
    }

    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { return }  // stderr closed: nothing more to say
            off += n
        }
    }

    public static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
