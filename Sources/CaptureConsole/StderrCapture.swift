// While the console owns the terminal, standard error (fd 2) is a pipe: what libraries print
// there (libjack, ALSA plugins) would otherwise land on top of the ncurses screen and stay until
// the next full repaint. Each line read from the pipe goes to a handler (the event log); the
// terminal's stderr is given back by `restore()`.
import CaptureCore
import Dispatch
import Glibc

/// `@unchecked Sendable`: `saved` is written in init and read by `restore()` on the same (main)
/// thread; the reader thread only uses the pipe it was given.
public final class StderrCapture: @unchecked Sendable {
    private var saved: Int32 = -1
    private let finished = DispatchSemaphore(value: 0)

    /// Takes fd 2 over; nil (and fd 2 untouched) if a pipe can't be made. `onLine` runs on a
    /// background thread, once per line (without its newline).
    public init?(onLine: @escaping @Sendable (String) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let saved = fcntl(2, F_DUPFD_CLOEXEC, 3)
        guard saved >= 0, dup2(fds[1], 2) >= 0 else {
            if saved >= 0 { close(saved) }
            close(fds[0]); close(fds[1])
            return nil
        }
        close(fds[1])  // fd 2 is now the only write end: restoring it ends the reader
        self.saved = saved
        let readEnd = fds[0]
        let finished = self.finished
        DispatchQueue.global(qos: .utility).async {
            StderrCapture.read(readEnd, onLine: onLine)
            close(readEnd)
            finished.signal()
        }
    }

    deinit { restore() }

    /// Points fd 2 back at what it was, then waits briefly for the last lines. Safe to call twice.
    public func restore() {
        guard saved >= 0 else { return }
        dup2(saved, 2)
        close(saved)
        saved = -1
        _ = finished.wait(timeout: .now() + .milliseconds(500))
    }

    private static func read(_ fd: Int32, onLine: (String) -> Void) {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        func emit(_ bytes: ArraySlice<UInt8>) {
            var line = bytes
            if line.last == 13 { line = line.dropLast() }
            guard !line.isEmpty else { return }
            onLine(printable(String(decoding: line, as: UTF8.self)))
        }
        while true {
            // EINTR is retried; any other failure, like end of input, ends the reader.
            guard let n = try? valueOrErrno({ buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }), n > 0 else { break }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: 10) {
                emit(pending[..<nl])
                pending.removeSubrange(...nl)
            }
            if pending.count > 1000 {  // a line that never ends: in pieces
                emit(pending[...])
                pending.removeAll()
            }
        }
        emit(pending[...])
    }

    /// One line without terminal control characters (escape sequences, tabs as spaces).
    static func printable(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u == "\t" { out.append(" ") } else if u.value >= 0x20 && u.value != 0x7F && !(0x80..<0xA0).contains(u.value) { out.append(u) }
        }
        return String(out)
    }
}
