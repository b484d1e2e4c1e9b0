// The application layer without spawning the binary: how settings combine, the control
// vocabulary's words, the status JSON writer, and the end-of-run rules of `record`'s follower.
@testable import CaptureApp
import CaptureConfig
import CaptureCore
import CaptureDeck
import ConsoleUI
import Glibc
import Testing

@Suite struct CaptureAppTests {
    @Test func flagsWinOverTheConfigFileWhichWinsOverDefaults() throws {
        let config = try ConfigLoader.parse("""
            [session]
            mix-with-others = true
            [routes]
            shared = "dsnoop:9"
            """, path: "/c.toml")
        var s = CaptureSettings()
        #expect(s.properties(config: nil) == AudioSessionProperties())
        #expect(s.properties(config: config).configuresApplicationAudioSessionToMixWithOthers)
        #expect(s.routes(config: config).shared == "dsnoop:9")
        #expect(s.namedADevice(config: config) && !s.namedADevice(config: nil))
        s.mixWithOthers = false
        s.sharedDevice = "dsnoop:1"
        s.rate = 44_100
        #expect(!s.properties(config: config).configuresApplicationAudioSessionToMixWithOthers)
        #expect(s.routes(config: config).shared == "dsnoop:1")
        #expect(s.streamFormat(config: config) == StreamFormat(sampleFormat: .s16LE, sampleRate: 44_100, channels: 2))
    }

    /// The signals handled are the control table's: every name in it maps to a number.
    @Test func signalsComeFromTheControlTable() {
        #expect(SignalHandlers.signals(for: .quit) == [SIGINT, SIGTERM, SIGHUP])
        for c in KeyMap.controls where !c.signals.isEmpty {
            #expect(c.signals.allSatisfy { SignalHandlers.numbers[$0] != nil }, "\(c.signals)")
        }
    }

    @Test func controlWords() {
        for on in ["on", "TRUE", "yes", "1"] { #expect(ControlInput.bool(on) == true) }
        for off in ["off", "False", "no", "0"] { #expect(ControlInput.bool(off) == false) }
        #expect(ControlInput.bool("maybe") == nil)
    }

    @Test func jsonKeepsKeyOrderAndEscapesControlCharacters() {
        var o = JSONObject()
        o["b"] = .number(2)
        o["a"] = .array([.bool(true), .null, .number(0.25), .string("x\"\n\u{1}")])
        o["b"] = .number(3)  // replaced: moves to the end
        #expect(JSONValue.object(o).encoded == #"{"a":[true,null,0.25,"x\"\n\u0001"],"b":3}"#)
    }

    @Test func aStopBeforeTheSessionStartsEndsWithNoError() {
        let events = SessionEvents(quiet: true)
        let session = CaptureSession()
        let output = CaptureAudioFileOutput(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2))
        events.requestStop()
        let end = events.waitForEnd(session, output: output, reconnectWait: 10)
        #expect(end.error == nil && end.xruns == 0)
        events.handle(.runtimeError(.noInput))
        guard case .failed(let e) = events.startOutcome(session) else { Issue.record("not failed"); return }
        #expect(e == .noInput)
    }
}
