// Control commands on standard input (when it is not a terminal): the same vocabulary as the
// console's keys, so every behaviour is scriptable. One command per line; `status` answers with
// one JSON line on standard output.
import CaptureCore
import CaptureDeck
import Dispatch
import Glibc

final class ControlInput: Sendable {
    let session: CaptureSession
    let output: CaptureAudioFileOutput
    let onStop: @Sendable () -> Void

    init(session: CaptureSession, output: CaptureAudioFileOutput, onStop: @escaping @Sendable () -> Void) {
        self.session = session
        self.output = output
        self.onStop = onStop
    }

    func start() {
        // A blocking reader on its own queue; the process exits without waiting for it.
        DispatchQueue(label: "capdeck.control").async { [self] in
            while let line = readLine() { handle(line) }
            // End of input: keep recording (until a signal, `-d`, or a device/disk error).
        }
    }

    static let help = "commands: set PROPERTY on|off, toggle PROPERTY, category NAME, status, stop (properties: uses-app-session, auto-configure, mix, bluetooth-hq)"

    /// Runs one command line. Unknown commands are reported on stderr and ignored.
    func handle(_ raw: String) {
        let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let verb = words.first?.lowercased() else { return }
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
        case "status" where words.count == 1:
            let json = StatusJSON.make(session: session, output: output) + "\n"
            _ = json.withCString { Glibc.write(1, $0, strlen($0)) }
        case "stop" where words.count == 1, "quit" where words.count == 1:
            onStop()
        case "help":
            complain(ControlInput.help)
        default:
            complain("unknown command '\(raw)'; \(ControlInput.help)")
        }
    }

    private func complain(_ s: String) { Terminal.error("control: \(s)") }

    static func bool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "on", "true", "yes", "1": true
        case "off", "false", "no", "0": false
        default: nil
        }
    }
}

/// The `status` answer: session state, route, properties, app session, meters, as one JSON line.
enum StatusJSON {
    static func make(session: CaptureSession, output: CaptureAudioFileOutput) -> String {
        var o = JSONObject()
        o["running"] = .bool(session.isRunning)
        let reason = session.interruptionReason
        o["interrupted"] = .bool(reason != nil)
        o["interruptionReason"] = reason.map { .string($0.rawValue) } ?? .null
        if let r = session.currentRoute {
            o["route"] = .object(["pcm": .string(r.pcm), "kind": .string(r.kind.rawValue)])
        } else {
            o["route"] = .null
        }
        let p = session.properties
        o["properties"] = .object(JSONObject(AudioSessionProperties.Key.allCases.map { ($0.rawValue, .bool(p[$0])) }))
        if let res = session.resolution {
            o["effective"] = .object(JSONObject(AudioSessionProperties.Key.allCases.map {
                ($0.rawValue, .string(res.effective[$0]?.description ?? ""))
            }))
            o["notes"] = .array(res.notes.map { .string($0) })
        }
        let app = session.applicationAudioSession.current
        o["appSession"] = .object(["category": .string(app.category.rawValue),
                                   "options": .array(app.options.names.map { .string($0) })])
        if let e = session.engine {
            let rate = e.configuration.recordingFormat.sampleRate
            o["frames"] = .number(Double(session.framesCaptured))
            o["seconds"] = .number(Double(session.framesCaptured) / Double(rate))
            o["xruns"] = .number(Double(session.xrunCount))
            o["realtime"] = .string(e.realtimeStatus.description)
            if let g = e.granted {
                o["granted"] = .object(["format": .string(g.format.sampleFormat.rawValue), "rate": .number(Double(g.format.sampleRate)),
                                        "channels": .number(Double(g.format.channels)), "periodFrames": .number(Double(g.periodFrames)),
                                        "bufferFrames": .number(Double(g.bufferFrames))])
            }
        }
        o["meters"] = .array(session.meterBoard.snapshot().map {
            .object(["peak": .number($0.peakDB), "rms": .number($0.rmsDB), "hold": .number($0.holdDB), "clips": .number(Double($0.clips))])
        })
        o["file"] = output.recordingPath.map { .string($0) } ?? .null
        o["recordedFrames"] = .number(Double(output.recordedFrames))
        return JSONValue.object(o).encoded
    }
}

/// A small ordered JSON writer (keys keep insertion order; numbers print without exponents).
indirect enum JSONValue {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object(JSONObject)

    var encoded: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d):
            if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
            return String((d * 1000).rounded() / 1000)
        case .string(let s): return JSONValue.quote(s)
        case .array(let a): return "[" + a.map(\.encoded).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.pairs.map { JSONValue.quote($0.0) + ":" + $0.1.encoded }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

struct JSONObject: ExpressibleByDictionaryLiteral {
    var pairs: [(String, JSONValue)] = []
    init() {}
    init(_ pairs: [(String, JSONValue)]) { self.pairs = pairs }
    init(dictionaryLiteral elements: (String, JSONValue)...) { pairs = elements }
    subscript(key: String) -> JSONValue? {
        get { pairs.first { $0.0 == key }?.1 }
        set {
            pairs.removeAll { $0.0 == key }
            if let newValue { pairs.append((key, newValue)) }
        }
    }
}
