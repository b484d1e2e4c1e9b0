// Linux words that fit: the session panel, the help overlay and the "too small" notice at every
// width from the minimum (or below it) up, rendered as text and read back.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct WordsLayoutTests {
    static let widths = Array(ConsoleLayout.minWidth...200)

    /// The models whose session panel shows every kind of effect: the defaults, 1 off (no
    /// effect), 2 off with the app session's options each way (app session decides), 3 and 4 on.
    static func models() -> [ConsoleModel] {
        var out: [ConsoleModel] = []
        let routes = InputRoutes(exclusive: "hw:1", shared: "dsnoop:1", bluetoothHQ: "bt", bluetoothHFP: nil)
        func add(_ change: (inout AudioSessionProperties) -> Void, options: AudioSessionOptions = []) {
            var m = ConsoleModel()
            m.levels = [ChannelLevel(peakDB: -12, rmsDB: -15, holdDB: -10, clips: 0), ChannelLevel(peakDB: -12, rmsDB: -15, holdDB: -10, clips: 0)]
            m.clipLatched = [false, false]
            change(&m.properties)
            m.effective = RouteResolver.resolve(m.properties, appSession: AudioSessionState(category: .playAndRecord, options: options),
                                                routes: routes).effective
            out.append(m)
        }
        add { _ in }
        add { $0.usesApplicationAudioSession = false }
        add { $0.automaticallyConfiguresApplicationAudioSession = false }
        add({ $0.automaticallyConfiguresApplicationAudioSession = false }, options: [.mixWithOthers, .bluetoothHighQualityRecording])
        add { $0.configuresApplicationAudioSessionToMixWithOthers = true; $0.configuresApplicationAudioSessionForBluetoothHighQualityRecording = true }
        return out
    }

    @Test("the session panel shows every property's name, state, default and whole effect words at every width from 64 to 200")
    func sessionPanelFitsEveryWidth() throws {
        let keys = AudioSessionProperties.Key.allCases
        for m in Self.models() {
            for w in Self.widths {
                let h = ConsoleLayout.minHeight(channels: 2, width: w)
                let g = ConsoleLayout.render(m, width: w, height: h)
                let rows = (0..<h).map { g.row($0) }
                let top = try #require(rows.firstIndex { $0.hasPrefix("Capture session") }, "\(w): \(g.text)")
                #expect(rows[top].contains(" state dflt  effect"), "\(w): \(rows[top])")
                for (i, key) in keys.enumerated() {
                    let row = rows[top + 1 + i]
                    let eff = m.effective[key]!
                    let words = PropertyWords.effect(key, eff)
                    #expect(row.hasPrefix(" \(i + 1)  \(PropertyWords.name(key))"), "\(w): \(row)")
                    // The longest wording that fits the room, whole, at the end of the row.
                    let room = w - 31  // the effect column starts at 31
                    let expected = try #require(words.first { $0.count <= room }, "\(w): no wording of \(words) fits \(room) columns")
                    #expect(row.trimmingTrailingSpaces.hasSuffix(" " + expected), "\(w) \(key): \(row.debugDescription), expected \(expected.debugDescription)")
                }
            }
        }
        // Every wording's last (shortest) form fits the narrowest console.
        for key in keys {
            for e in [EffectiveState.applies(true), .applies(false), .noEffect(reason: "uses app session is off"), .appSessionDecides(true), .appSessionDecides(false)] {
                #expect(PropertyWords.effect(key, e).last!.count <= ConsoleLayout.minWidth - 31, "\(key) \(e)")
            }
            #expect(PropertyWords.name(key).count <= 15)
        }
    }

    /// The overlay's text rows at one scroll position: what lies between the box's borders.
    static func helpRows(_ m: ConsoleModel, width: Int, height: Int) -> [String] {
        let g = ConsoleLayout.render(m, width: width, height: height)
        return (0..<height).map { g.row($0) }.filter { $0.contains("│") }
    }

    @Test("the help overlay shows every key's whole words (and Apple's names), wrapped and scrolled, at every width from 64 to 200")
    func helpOverlayFitsEveryWidth() throws {
        var m = Self.models()[0]
        m.showHelp = true
        for w in Self.widths {
            let lines = ConsoleLayout.helpLines(width: w)
            let textW = min(w - 4, 92) - 13
            // Each key's lines put back together are its words and Apple's name, none cut.
            for (i, b) in KeyMap.bindings.enumerated() {
                let mine = lines.filter { $0.binding == i }
                #expect(mine.allSatisfy { $0.text.count <= textW }, "\(w): \(mine.map(\.text))")
                let full = b.help + (b.apple.map { " (Apple: \($0))" } ?? "")
                #expect(mine.map(\.text).joined().filter { $0 != " " } == full.filter { $0 != " " }, "\(w): \(mine.map(\.text)) vs \(full)")
                #expect(mine.first?.keys == b.keys.joined(separator: " / "))
            }
            for h in [ConsoleLayout.minHeight(channels: 2, width: w), 24, 40, 60] {
                // Scrolled down one line at a time until every line has been seen whole, in place.
                let x = (w - min(w - 4, 92)) / 2
                var unseen = Array(lines.indices)
                for scroll in 0...lines.count where !unseen.isEmpty {
                    m.helpScroll = scroll
                    let rows = Self.helpRows(m, width: w, height: h)
                    unseen.removeAll { i in
                        rows.contains { $0.count > x + 12 && $0.dropFirst(x + 12).hasPrefix(lines[i].text) && $0.dropFirst(x + 2).hasPrefix(lines[i].keys) }
                    }
                }
                #expect(unseen.isEmpty, "\(w)×\(h): never shown: \(unseen.map { lines[$0].text })")
            }
        }
    }

    @Test("below the minimum size the notice is whole at every width and height it can be (40×10 included)")
    func tooSmallNoticeWraps() {
        var m = Self.models()[0]
        for recording in [false, true] {
            m.recording = recording ? .recording : .stopped
            // From 10 columns no word of it is longer than a line (none is split).
            for w in 10..<ConsoleLayout.minWidth {
                for h in 4...24 {
                    let g = ConsoleLayout.render(m, width: w, height: h)
                    let text = (0..<h).map { g.row($0).trimmingTrailingSpaces.drop { $0 == " " } }.filter { !$0.isEmpty }.joined(separator: " ")
                    let need = "capdeck needs a terminal of at least 64×\(ConsoleLayout.minHeight(channels: 2)) (this one is \(w)×\(h)); please enlarge it."
                    let quit = recording ? "Recording continues; q asks before quitting." : "q quits."
                    let lines = Readout.wrap(need, width: w).count + Readout.wrap(quit, width: w).count
                    if lines <= h {
                        #expect(text == need + " " + quit, "\(w)×\(h): \(text.debugDescription)")
                    } else {
                        #expect(need.hasPrefix(text.prefix(20)), "\(w)×\(h): the size comes first: \(text)")
                    }
                }
            }
        }
        let g = ConsoleLayout.render(m, width: 40, height: 10)
        #expect(g.text.contains("capdeck needs a terminal of at least"))
    }

    @Test func wrapBreaksAtSpacesAndSplitsOnlyWordsLongerThanALine() {
        #expect(Readout.wrap("mix with others: shared device", width: 10) == ["mix with", "others:", "shared", "device"])
        #expect(Readout.wrap("abcdefghij", width: 4) == ["abcd", "efgh", "ij"])
        #expect(Readout.wrap("", width: 5) == [""])
        #expect(Readout.wrap("a b", width: 80) == ["a b"])
    }

    @Test func helpScrollsWithTheArrowsAndStartsAtTheTopEachTime() {
        var i = ConsoleInteraction()
        _ = i.handle(key: Int32(UInt8(ascii: "?")))
        _ = i.handle(key: KeyMap.down)
        _ = i.handle(key: KeyMap.down)
        #expect(i.helpScroll == 2)
        _ = i.handle(key: KeyMap.up)
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.showHelp && m.helpScroll == 1)
        _ = i.handle(key: KeyMap.escape)
        _ = i.handle(key: Int32(UInt8(ascii: "?")))
        #expect(i.helpScroll == 0)
    }
}

extension StringProtocol {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

@Suite struct DevicePickerTests {
    func opened(_ pcms: [String], current: String?) -> (ConsoleInteraction, ConsoleModel.Picker, [String]) {
        var i = ConsoleInteraction()
        #expect(i.handle(key: Int32(UInt8(ascii: "d"))) == [.listDevices])
        i.devicesListed(pcms, current: current)
        guard case .picker(let p, let all) = i.mode else { Issue.record("no picker: \(i.mode)"); return (i, ConsoleModel.Picker(title: "", items: [], selected: 0), []) }
        return (i, p, all)
    }

    @Test("the picker starts on the current device and marks it; a current device the catalog doesn't list comes first")
    func startsOnTheCurrentDevice() {
        let (_, p, all) = opened(["pulse:mic", "hw:CARD=USB,DEV=0", "dsnoop:CARD=USB,DEV=0"], current: "hw:CARD=USB,DEV=0")
        #expect(p.selected == 1 && p.items[1] == "hw:CARD=USB,DEV=0  (current)", "\(p)")
        #expect(p.items.filter { $0.contains("(current)") }.count == 1)
        #expect(all.last == ConsoleInteraction.typeAName && all.contains("builtin:pink"))
        let (_, q, qall) = opened(["pulse:mic"], current: "toneA")
        #expect(q.selected == 0 && qall[0] == "toneA" && q.items[0] == "toneA  (current)", "\(q)")
        let (_, b, _) = opened(["pulse:mic"], current: "builtin:pink")
        #expect(b.items[b.selected] == "builtin:pink  (built-in test signal)  (current)", "\(b)")
    }

    @Test("the last item takes a typed PCM name: letters (q, j, k too) are text, Backspace edits, Enter opens it, Esc cancels")
    func takesATypedName() {
        var (i, p, all) = opened(["pulse:mic"], current: "pulse:mic")
        for _ in p.selected..<(all.count - 1) { _ = i.handle(key: KeyMap.down) }
        #expect(i.handle(key: KeyMap.enter) == [])
        #expect(i.mode == .typeName(""))
        for c in "hw:jqk,0x" { _ = i.handle(key: Int32(c.asciiValue!)) }
        _ = i.handle(key: 127)
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.prompt == ConsoleInteraction.typeNamePrompt + "hw:jqk,0_" && m.picker == nil)
        #expect(i.handle(key: KeyMap.enter) == [.choose(pcm: "hw:jqk,0")])
        #expect(i.mode == .normal)
        // Esc leaves it; an empty name chooses nothing.
        (i, p, all) = opened(["pulse:mic"], current: nil)
        for _ in 0..<all.count { _ = i.handle(key: KeyMap.down) }
        _ = i.handle(key: KeyMap.enter)
        _ = i.handle(key: Int32(UInt8(ascii: "x")))
        _ = i.handle(key: KeyMap.escape)
        #expect(i.mode == .normal)
        (i, p, all) = opened(["pulse:mic"], current: nil)
        for _ in 0..<all.count { _ = i.handle(key: KeyMap.down) }
        _ = i.handle(key: KeyMap.enter)
        #expect(i.handle(key: KeyMap.enter) == [])
        #expect(i.mode == .normal)
    }
}
