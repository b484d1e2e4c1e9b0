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
        let unicode = StatusLine.localeIsUTF8()
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler {
            guard session.engine != nil else {
                Terminal.write("\r\u{1B}[2K" + (session.isInterrupted ? (unicode ? "‖" : "||") + " INTERRUPTED: waiting for the device"
                                                                     : (unicode ? "■" : "-") + " stopped"))
                return
            }
            let line = StatusLine.text(state: output?.triggerState ?? .off, seconds: Double(session.framesCaptured) / Double(rate),
                                       levels: session.meterBoard.snapshot(), xruns: session.xrunCount,
                                       part: output?.currentPart?.index ?? 1, route: session.currentRoute, unicode: unicode)
            Terminal.write(StatusLine.fit("\r\u{1B}[2K" + line))
        }
    }

    /// The line: state, elapsed time, each channel's peak and RMS labelled as the console's
    /// meters show them (`L  -8.3 pk -18.8 rms`), xruns, the part and the route. ASCII only
    /// unless `unicode` (the locale's character set is UTF-8).
    public static func text(state: TriggerState, seconds: Double, levels: [ChannelLevel], xruns: Int, part: Int,
                            route: Route?, unicode: Bool) -> String {
        var line = "\(Self.state(state, unicode: unicode)) \(Readout.duration(seconds, tenths: true))"
        func reading(_ l: ChannelLevel) -> String { "\(Readout.db(l.peakDB).drop { $0 == " " }) pk \(Readout.db(l.rmsDB).drop { $0 == " " }) rms" }
        if levels.count <= 8 {
            for (i, l) in levels.enumerated() {
                line += "  \(ConsoleLayout.channelLabel(i, count: levels.count).trimmingSpaces) \(reading(l))"
                if l.clips > 0 { line += " CLIP" }
            }
        } else if let loudest = levels.indices.max(by: { levels[$0].peakDB < levels[$1].peakDB }) {
            // Many channels don't fit a line: the loudest, and which have clipped.
            line += "  \(levels.count) ch, loudest \(loudest + 1) \(reading(levels[loudest]))"
            let clipped = levels.indices.filter { levels[$0].clips > 0 }.map { "\($0 + 1)" }
            if !clipped.isEmpty { line += " CLIP " + clipped.joined(separator: ",") }
        }
        line += " (dBFS)  xruns \(xruns)"
        if part > 1 { line += "  part \(part)" }
        if let r = route { line += "  \(r.pcm) [\(r.kind.rawValue)]" }
        return line
    }

    /// `● REC`, or a level trigger's state: `◌ ARMED`, `● TRIGGERED`, `◐ HOLDING` (ASCII: `*`,
    /// `o`, `*`, `~`).
    static func state(_ state: TriggerState, unicode: Bool) -> String {
        switch state {
        case .off: unicode ? "● REC" : "* REC"
        case .armed: unicode ? "◌ ARMED" : "o ARMED"
        case .triggered: unicode ? "● TRIGGERED" : "* TRIGGERED"
        case .holding: unicode ? "◐ HOLDING" : "~ HOLDING"
        }
    }

    /// Whether the user's locale (LC_ALL, LC_CTYPE, LANG) has UTF-8 characters, as the console
    /// decides it: the C library's own answer, the process's locale left as it was.
    public static func localeIsUTF8() -> Bool {
        let saved = setlocale(LC_CTYPE, nil).map { String(cString: $0) } ?? "C"
        defer { setlocale(LC_CTYPE, saved) }
        guard setlocale(LC_CTYPE, "") != nil else { return false }
        let codeset = String(cString: nl_langinfo(nl_item(CODESET))).uppercased()
        return codeset == "UTF-8" || codeset == "UTF8"
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

extension String {
    /// Without the spaces around it.
    fileprivate var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
