// The render loop's frames: whatever ConsoleRenderer reuses of the last frame, each frame is the
// one ConsoleLayout lays out whole for the same model, and a frame showing nothing new is not one.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct ConsoleRendererTests {
    func model(channels: Int = 2, db: Double = -12) -> ConsoleModel {
        var m = ConsoleModel()
        m.inputName = "hw:1,0"
        m.route = Route(pcm: "plughw:CARD=USB,DEV=0", kind: .exclusive)
        m.granted = GrantedParameters(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: channels),
                                      periodFrames: 960, bufferFrames: 3840, access: "RW_INTERLEAVED")
        m.realtime = "SCHED_FIFO 70"
        m.running = true
        m.levels = levels(channels, db)
        m.clipLatched = Array(repeating: false, count: channels)
        m.effective = RouteResolver.resolve(m.properties, appSession: AudioSessionState(), routes: InputRoutes(exclusive: "hw")).effective
        m.directory = "/home/u/rec"
        m.events = [ConsoleModel.Event(time: "12:00:01", text: "capturing plughw:CARD=USB,DEV=0 (exclusive)")]
        return m
    }

    /// Channel i a little below channel i - 1, so every meter differs.
    func levels(_ n: Int, _ db: Double) -> [ChannelLevel] {
        (0..<n).map { ChannelLevel(peakDB: db - Double($0) * 0.7, rmsDB: db - 9 - Double($0) * 0.7, holdDB: db + 1.5, clips: 0) }
    }

    /// Renders `m` and checks the frame against a whole layout; returns whether it was new.
    func frame(_ r: inout ConsoleRenderer, _ m: ConsoleModel, _ w: Int = 120, _ h: Int = 40,
               sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let (grid, changed) = r.render(m, width: w, height: h)
        let whole = ConsoleLayout.render(m, width: w, height: h)
        // (Compared as a Bool, and the differing rows shown as text: a grid prints cell by cell.)
        let same = grid == whole
        let rows = (0..<min(grid.height, whole.height)).filter { y in (0..<w).contains { grid[$0, y] != whole[$0, y] } }
        #expect(same, "rows \(rows) differ:\n\(rows.map { grid.row($0) + "\n" + whole.row($0) }.joined(separator: "\n"))",
                sourceLocation: sourceLocation)
        return changed
    }

    @Test func framesEqualTheWholeLayoutWhileTheMetersMove() {
        var r = ConsoleRenderer()
        var m = model()
        #expect(frame(&r, m))
        #expect(!frame(&r, m), "the same model again is no new frame")
        // Only the meters move: the bars and their numbers follow, the rest stays.
        for db in stride(from: -15.0, to: -40, by: -3.3) {
            m.levels = levels(2, db)
            #expect(frame(&r, m))
        }
        m.clipLatched = [false, true]
        #expect(frame(&r, m))
        #expect(ConsoleLayout.render(m, width: 120, height: 40).row(5).contains("CLIP"))
        // Something else changes with them: the whole screen again, and then meters only once more.
        m.events.append(ConsoleModel.Event(time: "12:00:02", text: "recording started", severity: .warning))
        m.levels = levels(2, -6)
        #expect(frame(&r, m))
        m.levels = levels(2, -7)
        #expect(frame(&r, m))
        // The help covers the meters: frames with it (and the first without it) are whole layouts.
        m.showHelp = true
        m.levels = levels(2, -8)
        #expect(frame(&r, m))
        m.levels = levels(2, -9)
        #expect(frame(&r, m))
        m.showHelp = false
        #expect(frame(&r, m))
        m.picker = ConsoleModel.Picker(title: "Input device", items: ["hw:0", "hw:1", "pulse"], selected: 1)
        m.levels = levels(2, -10)
        #expect(frame(&r, m))
        m.picker = nil
        #expect(frame(&r, m))
    }

    @Test func theClockTicksOnlyWhenTheShownSecondDoes() {
        var r = ConsoleRenderer()
        var m = model()
        m.recording = .recording
        m.filePath = "/home/u/rec/capdeck-20261201-120000.wav"
        m.recordedSeconds = 3.2
        m.preRollSeconds = 1
        m.preRollHeldSeconds = 0.42
        #expect(frame(&r, m))
        m.recordedSeconds = 3.7
        m.preRollHeldSeconds = 0.44  // shown as 0.4, as before
        #expect(!frame(&r, m), "00:00:03 and 0.4 s both times: nothing new to draw")
        m.recordedSeconds = 4.01
        #expect(frame(&r, m))
        #expect(ConsoleLayout.render(m, width: 120, height: 40).text.contains("00:00:04"))
        m.preRollHeldSeconds = 0.46
        #expect(frame(&r, m))
    }

    @Test func manyChannelsResizesAndTheLoudnessStrip() {
        var r = ConsoleRenderer()
        var m = model(channels: 32)
        #expect(frame(&r, m))  // vertical bars at 120×40
        for db in [-3.0, -20, -45, -70] {
            m.levels = levels(32, db)
            #expect(frame(&r, m))
        }
        m.meterFocus = 5  // the focus line is one of the meters' rows
        #expect(frame(&r, m))
        m.levels = levels(32, -15)
        #expect(frame(&r, m, 100, 30))  // a resize: a whole layout at the new size
        m.levels = levels(32, -16)
        #expect(frame(&r, m, 100, 30))
        #expect(frame(&r, m, 60, 20))  // too small: the size message
        m.levels = levels(32, -17)
        #expect(frame(&r, m, 60, 20))
        #expect(frame(&r, m))
        // Fewer channels on the same screen: another meter layout.
        m = model(channels: 2)
        #expect(frame(&r, m))
        m.loudness = LoudnessStrip(scale: .ebu9, momentary: -20, shortTerm: -21, integrated: -23, range: 4, maxTruePeak: -3)
        #expect(frame(&r, m))
        m.levels = levels(2, -30)
        #expect(frame(&r, m))
        m.loudness?.momentary = -18
        #expect(frame(&r, m))
    }

    @Test func aCellIsThirtyTwoBitsWithoutPadding() {
        // The terminal compares rows with memcmp: that needs cells without padding bytes.
        #expect(MemoryLayout<Cell>.size == 4 && MemoryLayout<Cell>.stride == 4)
        var c = Cell("▌", .peakTip)
        #expect(c.char == "▌" && c.style == .peakTip)
        c.style = .good
        c.char = "\u{10FFFF}"
        #expect(c.scalar.value == 0x10FFFF && c.style == .good, "the highest scalar and style side by side")
        #expect(Cell("é") == Cell(scalar: "é") && Cell("x", .dim) != Cell("x", .bold))
    }

    @Test func invalidateLaysTheNextFrameOutWhole() {
        var r = ConsoleRenderer()
        let m = model()
        #expect(frame(&r, m))
        r.invalidate()
        #expect(frame(&r, m), "after invalidate (a resize, Ctrl-L) the same model is drawn again")
    }
}
