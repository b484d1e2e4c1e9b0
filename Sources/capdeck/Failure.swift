// A user-facing failure: one line on stderr and a sysexits-style exit code.
import ArgumentParser
import Glibc

/// sysexits(3) codes used by capdeck.
enum ExitStatus: Int32 {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case cannotCreate = 73
    case ioError = 74
    case config = 78
}

struct Failure: Error {
    let message: String
    let code: ExitStatus

    init(_ message: String, code: ExitStatus) {
        self.message = message
        self.code = code
    }

    func report() { Terminal.error(message) }
}

/// stderr output shared by the commands.
enum Terminal {
    /// One line, always: any newline inside the message (from a library's text) is folded.
    static func error(_ message: String) {
        let flat = String(message.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
        write("capdeck: \(flat)\n")
    }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { return }  // stderr closed: nothing more to say
            off += n
        }
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
