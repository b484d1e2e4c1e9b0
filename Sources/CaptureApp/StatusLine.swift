// The one-line live status on stderr during a headless recording.
import CaptureCore
import ConsoleUI
import CaptureDeck
import Dispatch
import Glibc

/// Redraws one status line on stderr four times a second (levels, elapsed, xruns).
/// `@unchecked Sendable` (SessionEvents reads `isActive` on the session queue): both fields are
/// `let`s, and the timer is resumed and cancelled only by the thread that made it.
public final class StatusLine: @unchecked Sendable {
    /// nil when disabled (a Dispatch source must never be released while suspended).
    private let timer: DispatchSourceTimer?
    private let queue = DispatchQueue(label: "capdeck.status")

    public var isActive: Bool { timer != nil }

    public init(session: CaptureSession, rate: Int, enabled: Bool, output: CaptureAudioFileOutput? = nil) {
        guard enabled else {
            timer = nil
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        self.timer = timer
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler {
            guard session.engine != nil else {
                Terminal.write("\r\u{1B}[2K" + (session.isInterrupted ? "‖ INTERRUPTED: waiting for the device" : "■ stopped"))
                return
            }
            let levels = session.meterBoard.snapshot()
            var line = "\r\u{1B}[2K\(StatusLine.state(output)) \(Readout.duration(Double(session.framesCaptured) / Double(rate), tenths: true))"
            if levels.count <= 8 {
                for (i, l) in levels.enumerated() {
                    line += "  \(i + 1):\(Readout.db(l.rmsDB))/\(Readout.db(l.peakDB))"
                    if l.clips > 0 { line += " CLIP" }
                }
            } else if let loudest = levels.indices.max(by: { levels[$0].peakDB < levels[$1].peakDB }) {
                // Many channels don't fit a line: the loudest, and which have clipped.
                let l = levels[loudest]
                line += "  \(levels.count) ch, loudest \(loudest + 1):\(Readout.db(l.rmsDB))/\(Readout.db(l.peakDB))"
                let clipped = levels.indices.filter { levels[$0].clips > 0 }.map { "\($0 + 1)" }
                if !clipped.isEmpty { line += " CLIP " + clipped.joined(separator: ",") }
            }
            line += " dBFS  xruns \(session.xrunCount)"
            if let part = output?.currentPart, part.index > 1 { line += "  part \(part.index)" }
            if let r = session.currentRoute { line += "  \(r.pcm) [\(r.kind.rawValue)]" }
            Terminal.write(StatusLine.fit(line))
        }
    }

    /// `● REC`, or a level trigger's state: `◌ ARMED`, `● TRIGGERED`, `◐ HOLDING`.
    static func state(_ output: CaptureAudioFileOutput?) -> String {
        switch output?.triggerState ?? .off {
        case .off: "● REC"
        case .armed: "◌ ARMED"
        case .triggered: "● TRIGGERED"
        case .holding: "◐ HOLDING"
        }
    }

    public func start() { timer?.resume() }

    public func stop() {
        guard let timer else { return }
        timer.cancel()
        queue.sync {}  // a callback already running finishes before the line is cleared
        Terminal.write("\r\u{1B}[2K")
    }

    /// Cuts the line to the terminal's width, so it never wraps (a wrapped line can't be redrawn
    /// in place). Escape sequences at the start don't take columns.
    public static func fit(_ line: String) -> String {
        var ws = winsize()
        let cols = ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 ? Int(ws.ws_col) : 80
        let prefix = "\r\u{1B}[2K"
        guard line.hasPrefix(prefix) else { return line }
        let body = line.dropFirst(prefix.count)
        return body.count < cols ? line : prefix + String(body.prefix(max(0, cols - 1)))
    }
}
