// What each key does in each mode, as effects: no terminal, no session.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct ConsoleInteractionTests {
    func key(_ c: Character) -> Int32 { Int32(c.asciiValue!) }

    /// An interaction with the picker open on `pcms`.
    func picking(_ pcms: [String] = ["hw:0", "dsnoop:0"]) -> ConsoleInteraction {
        var i = ConsoleInteraction()
        #expect(i.handle(key: key("d")) == [.listDevices])
        i.devicesListed(pcms)
        return i
    }

    @Test func everyKeyInTheTableHasItsEffectInNormalMode() throws {
        let expected: [ConsoleCommand: [ConsoleEffect]] = [
            .toggle(.usesAppSession): [.toggle(.usesAppSession)], .toggle(.autoConfigure): [.toggle(.autoConfigure)],
            .toggle(.mixWithOthers): [.toggle(.mixWithOthers)], .toggle(.bluetoothHQ): [.toggle(.bluetoothHQ)],
            .recordStartStop: [.toggleRecording], .pauseResume: [.pauseResume], .armTrigger: [.toggleTrigger], .split: [.split], .mark: [.mark], .chooseDevice: [.listDevices],
            .cycleCategory: [.cycleCategory], .resetMeters: [.resetMeters], .cycleBallistics: [.cycleBallistics],
            .cycleLoudness: [.cycleLoudnessStrip], .resetLoudness: [.resetLoudness], .redraw: [.repaint], .help: [], .quit: [.requestQuit],
            .previousChannel: [], .nextChannel: [],
        ]
        for b in KeyMap.bindings {
            for name in b.keys {
                for code in KeyMap.codes(named: name) {
                    #expect(KeyMap.command(for: code) == b.command, "\(name)")
                    var i = ConsoleInteraction()
                    #expect(i.handle(key: code) == expected[try #require(b.command)], "\(name) (\(code))")
                    #expect(i.mode == (b.command == .help ? .help : .normal), "\(name)")
                }
            }
        }
        var i = ConsoleInteraction()
        #expect(i.handle(key: key("z")) == [] && i.handle(key: KeyMap.enter) == [] && i.mode == .normal)
        #expect(KeyMap.codes(named: "r") == [key("r"), key("R")] && KeyMap.codes(named: "?") == [key("?")])
    }

    @Test func dListsDevicesOffTheUIThreadThenThePickerOpensWithTheBuiltInSignals() {
        var i = ConsoleInteraction()
        #expect(i.handle(key: key("d")) == [.listDevices])
        #expect(i.mode == .normal, "nothing on screen until the list arrives")
        i.devicesListed(["hw:CARD=USB,DEV=0", "dsnoop:CARD=USB,DEV=0"])
        guard case .picker(let p, let pcms) = i.mode else { Issue.record("no picker: \(i.mode)"); return }
        #expect(pcms == ["hw:CARD=USB,DEV=0", "dsnoop:CARD=USB,DEV=0", "builtin", "builtin:sweep", "builtin:pink", "type a PCM name…"])
        #expect(p.title == "Input device" && p.selected == 0 && p.items[2] == "builtin  (built-in test signal)")
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.picker == p && m.prompt == nil && !m.showHelp)
        // A list that arrives after another mode came up (help) is dropped.
        var j = ConsoleInteraction()
        _ = j.handle(key: key("d"))
        _ = j.handle(key: key("?"))
        j.devicesListed(["hw:0"])
        #expect(j.mode == .help)
    }

    @Test func pickerMovesWithinItsItemsAcceptsAndCancels() {
        var i = picking()
        #expect(i.handle(key: KeyMap.up) == [])  // already at the top
        #expect(i.handle(key: KeyMap.down) == [] && i.handle(key: key("j")) == [] && i.handle(key: key("j")) == [])
        for _ in 0..<10 { _ = i.handle(key: KeyMap.down) }
        guard case .picker(let p, _) = i.mode else { Issue.record("closed"); return }
        #expect(p.selected == 5, "stops at the last item (type a PCM name…)")
        _ = i.handle(key: key("k"))
        #expect(i.handle(key: key("1")) == [] && i.handle(key: key("r")) == [], "normal keys do nothing in the picker")
        #expect(i.handle(key: KeyMap.enter) == [.choose(pcm: "builtin:pink")])
        #expect(i.mode == .normal)
        for enter: Int32 in [13, 0o527] {
            var e = picking()
            #expect(e.handle(key: enter) == [.choose(pcm: "hw:0")])
        }
        for cancel in [KeyMap.escape, key("q"), key("?"), KeyMap.f1] {
            var c = picking()
            #expect(c.handle(key: cancel) == [] && c.mode == .normal, "\(cancel)")
        }
        var r = picking()
        #expect(r.handle(key: KeyMap.ctrlL) == [.repaint])
        guard case .picker = r.mode else { Issue.record("Ctrl-L closed the picker"); return }
    }

    @Test func helpClosesWithEscQuestionMarkF1OrQAndSwallowsOtherKeys() {
        for close in [KeyMap.escape, key("?"), KeyMap.f1, key("q")] {
            var i = ConsoleInteraction()
            _ = i.handle(key: KeyMap.f1)
            var m = ConsoleModel()
            i.apply(to: &m)
            #expect(m.showHelp)
            #expect(i.handle(key: key("r")) == [] && i.handle(key: key("3")) == [] && i.mode == .help)
            #expect(i.handle(key: KeyMap.ctrlL) == [.repaint] && i.mode == .help)
            #expect(i.handle(key: close) == [] && i.mode == .normal, "\(close)")
        }
    }

    @Test func quitWhileRecordingAsksYQuitsNOrEscKeepsRecording() {
        var i = ConsoleInteraction()
        #expect(i.handle(key: key("q")) == [.requestQuit])
        i.recordingBlocksQuit()
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.prompt == ConsoleInteraction.quitPrompt)
        #expect(i.handle(key: key("r")) == [] && i.handle(key: key("d")) == [], "other keys wait for the answer")
        #expect(i.handle(key: key("y")) == [.quit])
        for no in [key("n"), key("N"), KeyMap.escape, key("q")] {
            var j = ConsoleInteraction()
            _ = j.handle(key: KeyMap.escape)
            j.recordingBlocksQuit()
            #expect(j.handle(key: no) == [] && j.mode == .normal, "\(no)")
            var n = ConsoleModel()
            j.apply(to: &n)
            #expect(n.prompt == nil)
        }
        var y = ConsoleInteraction()
        y.recordingBlocksQuit()
        #expect(y.handle(key: key("Y")) == [.quit])
    }

    @Test func theRepairOfferAsksAndAnswersOnce() {
        var i = ConsoleInteraction()
        i.offerRepair(["/r/a.wav", "/r/b.wav"], in: "/r")
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.prompt == "2 unfinished recordings in /r (cut short by a crash). Repair now? (y/n)")
        #expect(i.handle(key: key("x")) == [])
        #expect(i.handle(key: key("y")) == [.repair(["/r/a.wav", "/r/b.wav"])] && i.mode == .normal)
        for no in [key("n"), KeyMap.escape, key("q")] {
            var j = ConsoleInteraction()
            j.offerRepair(["/r/a.wav"], in: "/r")
            #expect(j.handle(key: no) == [.leaveUnrepaired(1)] && j.mode == .normal)
        }
        // Found while the help is up: asked once the help closes.
        var h = ConsoleInteraction()
        _ = h.handle(key: key("?"))
        h.offerRepair(["/r/a.wav"], in: "/r")
        #expect(h.mode == .help)
        _ = h.handle(key: KeyMap.escape)
        #expect(h.mode == .offerRepair(["/r/a.wav"], directory: "/r"))
        var none = ConsoleInteraction()
        none.offerRepair([], in: "/r")
        #expect(none.mode == .normal)
    }
}
