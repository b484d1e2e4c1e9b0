// Control commands on standard input (when it is not a terminal): the same vocabulary as the
// console's keys (one table, `KeyMap.controls`), so every behaviour is scriptable. One command
// per line; `status` answers with one JSON line on standard output.
import CaptureCore
import CaptureDeck
import ConsoleUI
import Dispatch
import Glibc

/// Reads control commands from standard input on its own queue (`capdeck.control`) and applies
/// them to the session; any thread may call `handle`.
public final class ControlInput: Sendable {
    let session: CaptureSession
    let output: CaptureAudioFileOutput
    let onStop: @Sendable () -> Void
    let otherAudio: OtherAudioCoordinator?
    /// The take's loudness (`status`, `reset-loudness`).
    let loudness: CaptureLoudnessOutput?

    public init(session: CaptureSession, output: CaptureAudioFileOutput, otherAudio: OtherAudioCoordinator? = nil,
                loudness: CaptureLoudnessOutput? = nil, onStop: @escaping @Sendable () -> Void) {
        self.session = session
        self.output = output
        self.loudness = loudness
        self.otherAudio = otherAudio
        self.onStop = onStop
    }

    public func start() {
        // A blocking reader on its own queue; the process exits without waiting for it.
        DispatchQueue(label: "capdeck.control").async { [self] in
            while let line = readLine() { handle(line) }
            // End of input: keep recording (until a signal, `-d`, or a device/disk error).
        }
    }

    public static var help: String { KeyMap.stdinHelp }

    /// Runs one command line. Unknown commands are reported on stderr and ignored.
    public func handle(_ raw: String) {
        let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let verb = words.first?.lowercased() else { return }
        guard KeyMap.stdinVerbs.contains(verb) else { return complain("unknown command '\(raw)'; \(ControlInput.help)") }
        switch verb {
        case "set" where words.count == 3:
            guard let key = AudioSessionProperties.Key(name: words[1]) else { return complain("unknown property '\(words[1])'") }
            guard let value = ControlInput.bool(words[2]) else { return complain("'\(words[2])' is not on or off") }
            var p = session.properties
            p[key] = value
            session.setProperties(p)
        case "toggle" where words.count == 2:
            guard let key = AudioSessionProperties.Key(name: words[1]) else { return complain("unknown property '\(words[1])'") }
            var p = session.properties
            p[key].toggle()
            session.setProperties(p)
        case "category" where words.count == 2:
            guard let c = AudioSessionCategory(rawValue: words[1]) else {
                return complain("unknown category '\(words[1])' (ambient, soloAmbient, playback, record, playAndRecord)")
            }
            session.applicationAudioSession.update { $0.category = c }
            session.setProperties(session.properties)  // re-resolve under the new category
        case "meter" where words.count == 2:
            guard let m = MeterBallistics(name: words[1]) else { return complain("unknown meter '\(words[1])'; use \(MeterBallistics.names)") }
            session.meterBoard.ballistics = m
        case "status" where words.count == 1:
            let json = StatusJSON.make(session: session, output: output, otherAudio: otherAudio, loudness: loudness) + "\n"
            _ = json.withCString { Glibc.write(1, $0, strlen($0)) }
        case "reset-loudness" where words.count == 1:
            loudness?.reset()
        case "split" where words.count == 1:
            if let e = ControlInput.split(output) { complain(e) }
        case "pause" where words.count == 1:
            if !output.pause() { complain(output.isRecording ? "already paused" : "not recording") }
        case "resume" where words.count == 1:
            if !output.resume() { complain(output.isRecording ? "not paused" : "not recording") }
        case "mark":
            // LABEL: the rest of the line's words, one space apart.
            let label = words.dropFirst().joined(separator: " ")
            guard output.isRecording else { return complain("not recording: no marker added") }
            if !session.addMarker(label: label.isEmpty ? "mark" : label) { complain("not capturing: no marker added") }
        case "stop" where words.count == 1, "quit" where words.count == 1:
            onStop()
        case "help":
            complain(ControlInput.help)
        default:
            complain("unknown command '\(raw)'; \(ControlInput.help)")
        }
    }

    private func complain(_ s: String) { Terminal.error("control: \(s)") }

    /// Starts the recording's next part now (stdin `split`, SIGUSR1, the console's key); returns
    /// what prevented it, if anything.
    public static func split(_ output: CaptureAudioFileOutput) -> String? {
        guard output.isRecording else { return "split: not recording" }
        do throws(RecordingError) {
            return try output.splitRecording() == nil ? "split: nothing recorded in this part yet" : nil
        } catch {
            return "split: \(error)"
        }
    }

    public static func bool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "on", "true", "yes", "1": true
        case "off", "false", "no", "0": false
        default: nil
        }
    }
}
