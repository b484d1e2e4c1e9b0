// Words a Linux user understands, in the app layer: the headless status line, where a named file
// goes and what type it gets, and what the device picker offers.
@testable import CaptureApp
import CaptureCore
import CaptureDeck
import ConsoleUI
import Glibc
import Testing

@Suite struct StatusLineWordsTests {
    static let levels = [ChannelLevel(peakDB: -8.34, rmsDB: -18.8, holdDB: -6, clips: 0), ChannelLevel(peakDB: -8.3, rmsDB: -18.81, holdDB: -6, clips: 2)]

    @Test("each channel's peak and RMS are labelled, in the console's order (pk, then rms), with the console's channel names")
    func labelled() {
        let line = StatusLine.text(state: .off, seconds: 3.2, levels: Self.levels, xruns: 1, part: 2,
                                   route: Route(pcm: "hw:1", kind: .exclusive), unicode: true)
        #expect(line == "● REC 00:00:03.2  L -8.3 pk -18.8 rms  R -8.3 pk -18.8 rms CLIP (dBFS)  xruns 1  part 2  hw:1 [exclusive]", "\(line)")
        let mono = StatusLine.text(state: .armed, seconds: 0, levels: [Self.levels[0]], xruns: 0, part: 1, route: nil, unicode: true)
        #expect(mono.hasPrefix("◌ ARMED 00:00:00.0  M -8.3 pk -18.8 rms (dBFS)"), "\(mono)")
        let many = StatusLine.text(state: .off, seconds: 0, levels: Array(repeating: Self.levels[0], count: 12), xruns: 0, part: 1,
                                   route: nil, unicode: true)
        #expect(many.contains("12 ch, loudest 1 -8.3 pk -18.8 rms"), "\(many)")
    }

    @Test("ASCII only where the locale isn't UTF-8, for every state")
    func asciiInANonUTF8Locale() {
        for state in [TriggerState.off, .armed, .triggered, .holding] {
            let line = StatusLine.text(state: state, seconds: 1, levels: Self.levels, xruns: 0, part: 1, route: nil, unicode: false)
            #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "\(line)")
        }
        #expect(StatusLine.text(state: .off, seconds: 1, levels: [], xruns: 0, part: 1, route: nil, unicode: false).hasPrefix("* REC"))
    }
}

@Suite struct OutputTargetWordsTests {
    @Test("-t gives an extension-less FILE its type; a relative FILE stays relative to the current directory, -o or not")
    func explicitFiles() throws {
        for (file, dir, type, want) in [("take", nil, FileType.flac, "take.flac"), ("take", "/tmp", .wav, "take.wav"),
                                        ("sub/take.wav", "/tmp", .wav, "sub/take.wav"), ("/abs/take.caf", "/tmp", .caf, "/abs/take.caf"),
                                        ("dir.d/take", nil, .aiff, "dir.d/take.aiff")] as [(String, String?, FileType, String)] {
            let t = try OutputTarget(file: file, outputDir: dir, pattern: "x", fileType: type)
            guard case .explicit(let path) = t.kind else { Issue.record("\(t.kind)"); continue }
            #expect(path == want, "\(file) -o \(dir ?? "-"): \(path)")
        }
    }

    @Test("--name take.wav isn't made take.wav.wav; --name's extension gives the type when -t doesn't")
    func patternExtensions() throws {
        let dir = "/tmp"
        for (pattern, type, base) in [("take.wav", FileType.wav, "take"), ("take.WAV", .wav, "take"), ("take.rf64", .wav, "take"),
                                      ("take.flac", .flac, "take"), ("take.aif", .aiff, "take"), ("take", .wav, "take"),
                                      ("take.v2", .wav, "take.v2"), ("%Y.%m", .wav, "%Y.%m")] {
            let t = try OutputTarget(file: nil, outputDir: dir, pattern: pattern, fileType: type)
            guard case .pattern(_, let b) = t.kind else { Issue.record("\(t.kind)"); continue }
            if !pattern.contains("%") { #expect(b == base, "\(pattern): \(b)") }
        }
        #expect(OutputTarget.fileType(given: nil, file: nil, pattern: "take.flac") == .flac)
        #expect(OutputTarget.fileType(given: .caf, file: nil, pattern: "take.flac") == .caf)
        #expect(OutputTarget.fileType(given: nil, file: "x.w64", pattern: "take.flac") == .w64)
        #expect(OutputTarget.fileType(given: nil, file: nil, pattern: "capdeck-%Y%m%d") == .wav)
        #expect(OutputTarget.extensionOf(".hidden") == nil && OutputTarget.extensionOf("a.") == nil && OutputTarget.extensionOf("a.b/c") == nil)
    }
}

@Suite struct DevicePickerListTests {
    @Test("the picker lists what can capture here: server PCMs only with a server, jack only with a JACK server, oss only with /dev/dsp")
    func leavesOutWhatCannotCapture() {
        let pcms = ["default", "jack", "oss", "pulse", "hw:CARD=USB,DEV=0", "toneA"]
        let why = DevicePickerList.unusable(server: nil)
        #expect(why("pulse") == "no sound server answers")
        #expect(why("hw:CARD=USB,DEV=0") == nil && why("toneA") == nil)
        if access("/dev/dsp", F_OK) != 0 { #expect(why("oss") == "no /dev/dsp") }
        if access("/dev/shm/jack_default_\(getuid())_0", F_OK) != 0 { #expect(why("jack") == "no JACK server runs") }
        let listed = DevicePickerList.devices(server: nil, pcms: pcms, isUsable: { why($0) == nil })
        #expect(!listed.contains("pulse") && listed.contains("hw:CARD=USB,DEV=0") && listed.contains("toneA"), "\(listed)")
        // Order is kept and a name comes once.
        #expect(DevicePickerList.devices(server: nil, pcms: pcms + pcms, isUsable: { _ in true }) == pcms)
    }
}

@Suite struct DurationWordsTests {
    @Test("one duration parser: seconds, units and clock times; bad clock fields refused")
    func durations() throws {
        for (text, seconds) in [("90", 90.0), ("1.5", 1.5), ("90s", 90), ("10m", 600), ("2h", 7200), ("1:30", 90), ("90:00", 5400),
                                ("1:02:03", 3723), ("0:00:02.5", 2.5), ("0", 0)] {
            #expect(try SplitLimits.duration(text).get() == seconds, "\(text)")
        }
        for bad in ["1:75", "1:60:00", "1::3", ":30", "1:2:3:4", "1:-3", "0x10", "1e3", "inf", "", "9000h", "a:30"] {
            #expect(throws: SplitLimitError.self, "\(bad)") { try SplitLimits.duration(bad).get() }
        }
    }
}
