// The control input's `status` answer: one JSON line (session, route, properties, meters, file),
// and the small ordered JSON writer it is made with.
import CaptureCore
import CaptureDeck

/// The `status` answer: session state, route, properties, app session, meters, as one JSON line.
public enum StatusJSON {
    public static func make(session: CaptureSession, output: CaptureAudioFileOutput, otherAudio: OtherAudioCoordinator? = nil,
                            loudness: CaptureLoudnessOutput? = nil) -> String {
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
        // The same keys whatever the state (null where there is no engine: interrupted, a stalled
        // server, a device awaited): a script reading `frames` mid-stall got a KeyError.
        let e = session.engine
        let rate = e?.configuration.recordingFormat.sampleRate ?? output.format.sampleRate
        o["frames"] = .number(Double(session.framesCaptured))
        o["seconds"] = .number(Double(session.framesCaptured) / Double(max(1, rate)))
        o["xruns"] = .number(Double(session.xrunCount))
        o["realtime"] = e.map { .string($0.realtimeStatus.description) } ?? .null
        if let g = e?.granted {
            o["granted"] = .object(["format": .string(g.format.sampleFormat.rawValue), "rate": .number(Double(g.format.sampleRate)),
                                    "channels": .number(Double(g.format.channels)), "periodFrames": .number(Double(g.periodFrames)),
                                    "bufferFrames": .number(Double(g.bufferFrames))])
        } else {
            o["granted"] = .null
        }
        // The mode of the readings (a switch takes effect at the meter's next 10 ms block), and
        // each channel's reading in it, `ballistic`, in sine-peak dBFS (VU: + 18 is VU).
        let levels = session.meterBoard.snapshot()
        o["meterMode"] = .string((levels.first?.ballistics ?? session.meterBoard.ballistics).rawValue)
        o["meters"] = .array(levels.map {
            .object(["peak": .number($0.peakDB), "rms": .number($0.rmsDB), "hold": .number($0.holdDB), "clips": .number(Double($0.clips)),
                     "ballistic": .number($0.ballisticDB)])
        })
        o["loudness"] = loudness.map { Self.loudness($0.reading) } ?? .null
        // Other programs' audio that mix off interrupted (MPRIS players paused by us).
        if let other = otherAudio?.state {
            o["otherAudio"] = .object(["interrupting": .bool(other.isInterrupting),
                                       "paused": .array(other.paused.map { .string($0.identity) })])
        } else {
            o["otherAudio"] = .null
        }
        // Cards whose device reservation we hold (mix off took them from the sound server).
        o["cardsReserved"] = .array(CardReservations.reservedByUs.map { .number(Double($0)) })
        o["file"] = output.recordingPath.map { .string($0) } ?? .null
        o["recordedFrames"] = .number(Double(output.recordedFrames))
        o["preRoll"] = preRoll(output)
        o["trigger"] = trigger(output)
        // The part being recorded (1 until the first split) and the take's frames before it.
        o["part"] = output.currentPart.map { .number(Double($0.index)) } ?? .null
        o["framesBeforePart"] = output.currentPart.map { .number(Double($0.framesBefore)) } ?? .null
        o["markers"] = markers(output)
        return JSONValue.object(o).encoded
    }
}

extension StatusJSON {
    /// `{"momentary", "shortTerm", "integrated", "range", "truePeak": [per channel], "maxMomentary",
    /// "maxShortTerm"}`: LUFS, LU and dBTP; null where there is no value yet (or silence).
    static func loudness(_ r: LoudnessReading?) -> JSONValue {
        let r = r ?? LoudnessReading()
        func n(_ v: Double?) -> JSONValue { v.map { .number($0) } ?? .null }
        return .object(["momentary": n(r.momentary), "shortTerm": n(r.shortTerm), "integrated": n(r.integrated), "range": n(r.range),
                        "truePeak": .array(r.truePeak.map(n)), "maxMomentary": n(r.maxMomentary), "maxShortTerm": n(r.maxShortTerm)])
    }

    /// `{"seconds": N, "heldSeconds": held}`: the pre-roll and how far it has filled.
    static func preRoll(_ output: CaptureAudioFileOutput) -> JSONValue {
        .object(["seconds": .number(output.preRollSeconds),
                 "heldSeconds": .number(Double(output.preRollHeldFrames) / Double(output.format.sampleRate))])
    }

    /// `{"count": n, "recent": [{"frame": f, "seconds": s, "label": "mark"}, …]}`: the current (or
    /// last) recording's markers as placed in its file (file frames; the latest, oldest first).
    static func markers(_ output: CaptureAudioFileOutput) -> JSONValue {
        let rate = Double(output.format.sampleRate)
        return .object(["count": .number(Double(output.markerCount)),
                        "recent": .array(output.recentMarkers.map {
                            .object(["frame": .number(Double($0.frame)), "seconds": .number(Double($0.frame) / rate), "label": .string($0.label)])
                        })])
    }

    /// `{"state": "off"|"armed"|"triggered"|"holding", "takes": n, "startLevel", "stopLevel", "holdSeconds"}`.
    static func trigger(_ output: CaptureAudioFileOutput) -> JSONValue {
        var t: JSONObject = ["state": .string(output.triggerState.rawValue), "takes": .number(Double(output.triggeredTakeCount))]
        if let l = output.trigger {
            t["startLevel"] = .number(l.startLevel)
            t["stopLevel"] = .number(l.stopLevel)
            t["holdSeconds"] = .number(l.holdSeconds)
        }
        return .object(t)
    }
}

/// A small ordered JSON writer (keys keep insertion order; numbers print without exponents).
public indirect enum JSONValue: Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object(JSONObject)

    public var encoded: String {
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

    public static func quote(_ s: String) -> String {
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

public struct JSONObject: ExpressibleByDictionaryLiteral, Sendable {
    public var pairs: [(String, JSONValue)] = []
    public init() {}
    public init(_ pairs: [(String, JSONValue)]) { self.pairs = pairs }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { pairs = elements }
    public subscript(key: String) -> JSONValue? {
        get { pairs.first { $0.0 == key }?.1 }
        set {
            pairs.removeAll { $0.0 == key }
            if let newValue { pairs.append((key, newValue)) }
        }
    }
}
