// The config file: good files load; bad ones name the file, line and key.
import CaptureConfig
import CaptureCore
import Testing

@Suite struct ConfigTests {
    @Test func fullFileLoads() throws {
        let c = try ConfigLoader.parse("""
            # capdeck settings
            [session]
            uses-app-session = true
            mix-with-others = true

            [app-session]
            category = "record"
            options = ["allowBluetoothHFP"]
            preferred-sample-rate = 96000

            [routes]
            exclusive = "hw:1,0"
            shared = "dsnoop:1,0"
            """, path: "c.toml")
        #expect(c.properties == AudioSessionProperties(uses: true, autoConfigures: true, mix: true, bluetoothHQ: false))
        #expect(c.appSession.category == .record && c.appSession.options == [.allowBluetoothHFP])
        #expect(c.appSession.preferredSampleRate == 96000)
        #expect(c.routes.exclusive == "hw:1,0" && c.routes.shared == "dsnoop:1,0" && c.routes.bluetoothHQ == nil)
    }

    @Test func consoleStateHoldsOnlyWhatWasChanged() throws {
        var st = ConsoleState()
        st.properties[.mixWithOthers] = true
        st.category = .record
        st.device = "hw:\"odd\\name"
        let back = try ConsoleState.parse(st.text, path: "console.toml")
        #expect(back == st, "round trip: \(st.text)")
        #expect(back.properties[.usesAppSession] == nil, "untouched properties stay unset")
        #expect(try ConsoleState.parse("", path: "s.toml").isEmpty)
        // Configuration is not state: the console never writes these there.
        for bad in ["[input]\nrate = 44100\n", "[routes]\nshared = \"pulse\"\n", "[app-session]\noptions = []\n"] {
            #expect(throws: ConfigError.self, "\(bad.debugDescription)") { try ConsoleState.parse(bad, path: "s.toml") }
        }
        #expect(ConsoleState.defaultPath(environment: ["XDG_STATE_HOME": "/st", "HOME": "/h"]) == "/st/capdeck/console.toml")
        #expect(ConsoleState.defaultPath(environment: ["XDG_STATE_HOME": "rel", "HOME": "/h"]) == "/h/.local/state/capdeck/console.toml")
    }

    @Test func inputTableHoldsTheConsolesSettings() throws {
        let c = try ConfigLoader.parse("[input]\ndevice = \"hw:2\"\nformat = \"S24_3LE\"\nrate = 96000\nchannels = 1\noutput-dir = \"/rec\"\n", path: "c.toml")
        #expect(c.inputDevice == "hw:2" && c.inputFormat == .s24_3LE && c.inputRate == 96000 && c.inputChannels == 1 && c.outputDir == "/rec")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[input]\nchannels = 65\n", path: "c.toml") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[input]\nformat = \"S8\"\n", path: "c.toml") }
    }

    @Test func preRollIsSecondsFromZeroToSixty() throws {
        #expect(try ConfigLoader.parse("[input]\npre-roll = 2.5\n", path: "c.toml").preRoll == 2.5)
        #expect(try ConfigLoader.parse("[input]\npre-roll = 60\n", path: "c.toml").preRoll == 60)
        for bad in ["61", "-1", "\"2\"", "true"] {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse("[input]\npre-roll = \(bad)\n", path: "c.toml") }
        }
    }

    /// `[input] description`: the bext Description, UTF-8 kept; over 256 bytes refused, naming the line.
    @Test func inputDescription() throws {
        #expect(try ConfigLoader.parse("[input]\ndescription = \"Aufnahme — Wald\"\n", path: "c.toml").bextDescription == "Aufnahme — Wald")
        let long = String(repeating: "é", count: 129)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[input]\ndescription = \"\(long)\"\n", path: "c.toml") }
        do { _ = try ConfigLoader.parse("[input]\ndescription = 3\n", path: "c.toml"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("c.toml:2: [input] description"), "\(error)")
        }
    }

    /// `[meters] ballistics`: what the meters read, any case.
    @Test func meterBallistics() throws {
        #expect(try ConfigLoader.parse("[meters]\nballistics = \"PPM2\"\n", path: "c.toml").meterBallistics == .ppm2)
        #expect(try ConfigLoader.parse("[meters]\nballistics = \"vu\"\n", path: "c.toml").meterBallistics == .vu)
        #expect(try ConfigLoader.parse("", path: "c.toml").meterBallistics == nil)
    }

    /// `[meters] loudness`: false is `--no-loudness`; unset, the meters run.
    @Test func meterLoudness() throws {
        #expect(try ConfigLoader.parse("[meters]\nloudness = false\n", path: "c.toml").loudness == false)
        #expect(try ConfigLoader.parse("[meters]\nloudness = true\nballistics = \"vu\"\n", path: "c.toml").loudness == true)
        #expect(try ConfigLoader.parse("", path: "c.toml").loudness == nil)
    }

    @Test func emptyFileIsDefaults() throws {
        let c = try ConfigLoader.parse("", path: "c.toml")
        #expect(c.properties == AudioSessionProperties() && c.routes.isEmpty)
    }

    static let bad: [(String, String)] = [
        ("[session]\nmix-with-others = \"yes\"\n", "c.toml:2: [session] mix-with-others: expected true or false, got the string \"yes\""),
        ("[session]\n\nvolume = 3\n", "c.toml:3: [session] volume: unknown key; use uses-app-session, auto-configure, mix-with-others (or mix) or bluetooth-hq"),
        ("[sesion]\nmix = true\n", "c.toml:1: [sesion]: unknown table; use [session], [app-session], [routes], [input], [other-audio] or [meters]"),
        ("[other-audio]\nmute-streams = 1\n", "c.toml:2: [other-audio] mute-streams: expected true or false, got the number 1"),
        ("[other-audio]\nduck = true\n", "c.toml:2: [other-audio] duck: unknown key; use mute-streams"),
        ("[meters]\nballistics = \"ppm\"\n", "c.toml:2: [meters] ballistics: expected \"peak\", \"ppm1\", \"ppm2\" or \"vu\", got the string \"ppm\""),
        ("[meters]\nballistics = 2\n", "c.toml:2: [meters] ballistics: expected \"peak\", \"ppm1\", \"ppm2\" or \"vu\", got the number 2"),
        ("[meters]\nmode = \"vu\"\n", "c.toml:2: [meters] mode: unknown key; use ballistics or loudness"),
        ("[meters]\nloudness = \"off\"\n", "c.toml:2: [meters] loudness: expected true or false, got the string \"off\""),
        ("[app-session]\ncategory = \"loud\"\n", "c.toml:2: [app-session] category: expected one of \"ambient\", \"soloAmbient\", \"playback\", \"record\", \"playAndRecord\", got the string \"loud\""),
        ("[app-session]\npreferred-sample-rate = 7\n", "c.toml:2: [app-session] preferred-sample-rate: expected a whole number of Hz from 8000 to 384000, got the number 7"),
        ("[app-session]\noptions = [\"fast\"]\n", "c.toml:2: [app-session] options: unknown option \"fast\"; use mixWithOthers, allowBluetoothHFP or bluetoothHighQualityRecording"),
        ("[routes]\nshared = 5\n", "c.toml:2: [routes] shared: expected a PCM name in quotes, got the number 5"),
        ("mix = true\n", "c.toml:1: mix: expected a table such as [session], [app-session] or [routes]"),
    ]

    @Test(arguments: bad)
    func badFilesNameFileLineAndKey(_ text: String, _ message: String) {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(text, path: "c.toml") }
        do { _ = try ConfigLoader.parse(text, path: "c.toml") } catch { #expect(error.description == message) }
    }

    @Test func syntaxErrorsHaveALine() {
        do {
            _ = try ConfigLoader.parse("[session]\nmix-with-others = \n", path: "c.toml")
            Issue.record("accepted broken TOML")
        } catch {
            #expect(error.line == 2, "\(error)")
            #expect(error.description.hasPrefix("c.toml:2: TOML syntax"))
        }
    }

    @Test func binaryAndTruncatedFilesAreRejected() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("\u{0}\u{1}\u{2}", path: "c.toml") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[routes]\nshared = \"dsn", path: "c.toml") }
    }
    /// Table headers that made toml++ (inside TOMLKit) abort, the first found by the config fuzz
    /// target (make fuzz). Each is now a syntax error on its line; in a test process an abort
    /// would end the whole run, so reaching the expectations at all is part of the proof.
    @Test(arguments: [
        ("[##\nsession]-i\nxmwith-o~~~~~~~\n", 1),  // the fuzzer's input
        ("[#", 1), ("\u{FEFF}[%sess)on]\n", 1), ("[!\n", 1), ("[\n", 1), ("[ \t=\n", 1), ("[[ !\n", 1), ("[[\n", 1),
        ("[session]\nmix-with-others = true\n[.x]\n", 3),
        ("b = \"[#\"\n[#\n", 2),
        ("b = \"\"\"\nline\n\"\"\"\n[!\n", 4),
        ("a = \"\"\"x\\\ny\"\"\"\n[#\n", 3),  // a line-ending backslash inside the string
    ])
    func tableHeadersThatCrashedTheParserAreSyntaxErrors(_ text: String, _ line: Int) {
        expectSyntaxError(text, line: line, "expected a table name after '['")
    }

    /// The guard must not reject valid TOML that merely looks like a bad header: `[` opening an
    /// array value on its own line, or inside strings and comments.
    @Test(arguments: [
        "[routes]\nshared = \"x\" # [!\n",
        "[app-session]\noptions = [\n[#\n]\n]\n",
        "[routes]\nshared = '''\n[!\n'''\n",
        "# [!\n[session]\n",
        "[ \"session\" ]\nmix-with-others = true\n",
        "[app-session]\noptions = [ \"}\", '}' ] # }\n",
        "[app-session]\noptions = [{a = 1}, {b = [2]}]\n",
    ])
    func bracketsThatAreNotHeadersPassTheGuard(_ text: String) {
        do {
            _ = try ConfigLoader.parse(text, path: "c.toml")
        } catch {
            #expect(!error.description.contains("expected a table name"), "\(text.debugDescription): \(error)")
        }
    }

    /// A `}` where an array expects a value made toml++ abort too (the fuzzer's second find).
    @Test(arguments: [
        ("ut= [{ chae= [}}}}\ni=ce*48\n", 1),  // the fuzzer's input, shortened
        ("a = [}\n", 1), ("a = [1, }\n", 1), ("[routes]\nx = {b = [}\n", 2), ("a = [\n# c\n}\n", 3),
    ])
    func closingBraceInAnArrayIsASyntaxError(_ text: String, _ line: Int) {
        expectSyntaxError(text, line: line, "expected a value in the array, found '}'")
    }

    /// Values quoted in errors can't break the one-line rule or reach the terminal raw (the
    /// fuzzer's third find: an option string holding a newline).
    @Test func errorsAreOneLineWithoutControlCharacters() {
        do {
            _ = try ConfigLoader.parse("[app-session]\noptions = [\"mix\\nWith\\u001B[2J\"]\n", path: "c.toml")
            Issue.record("accepted an unknown option")
        } catch {
            #expect(error.description.hasPrefix("c.toml:2: [app-session] options: unknown option \"mix\\nWith\\u{1b}[2J\""), "\(error.description)")
            #expect(!error.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(error.description.debugDescription)")
        }
    }

    /// A date, a space and a lone digit made toml++ abort (the fuzzer's fourth find).
    @Test(arguments: [
        ("it= 4\u{3}RV-ao-g\u{2} 1}", 1),  // the fuzzer's input
        ("a = 2024-01-01 1\n", 1), ("[input]\nx = [2024-01-01 1]\n", 2), ("a = 2024-01-01 1 # c\n", 1),
    ])
    func dateThenLoneDigitIsASyntaxError(_ text: String, _ line: Int) {
        expectSyntaxError(text, line: line, "a date must be followed by a time such as 12:00:00, not a lone digit")
    }

    @Test(arguments: ["a = 2024-01-01 12:00:00\n", "a = 2024-01-01T12:00:00Z\n", "a = 2024-01-01\n", "a = \"2024-01-01 1\"\n"])
    func datesAndTimesPassTheGuard(_ text: String) {
        do {
            _ = try ConfigLoader.parse(text, path: "c.toml")
        } catch {
            #expect(!error.description.contains("TOML syntax"), "\(text.debugDescription): \(error)")
        }
    }

    /// `text` is refused with exactly "c.toml:LINE: TOML syntax: MESSAGE".
    func expectSyntaxError(_ text: String, line: Int, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ConfigLoader.parse(text, path: "c.toml")
            Issue.record("accepted \(text.debugDescription)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description == "c.toml:\(line): TOML syntax: \(message)", "\(text.debugDescription)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct ChannelConfigTests {
    @Test func selectAndSplitChannelsKeys() throws {
        let c = try ConfigLoader.parse("[input]\nselect = \"1,2, 5-8\"\nsplit-channels = true\n", path: "c.toml")
        #expect(c.inputSelection?.indices == [0, 1, 4, 5, 6, 7] && c.inputSelection?.description == "1,2,5-8")
        #expect(c.splitChannels == true)
        #expect(try ConfigLoader.parse("[input]\nchannels = 64\n", path: "c.toml").inputChannels == 64)
        for (text, says) in [("select = \"0\"", "count from 1"), ("select = 3", "in quotes"), ("select = \"2-1\"", "a range goes up"),
                             ("channels = 2\nselect = \"1\"", "remove channels"), ("split-channels = 1", "true or false")] {
            #expect { try ConfigLoader.parse("[input]\n" + text + "\n", path: "c.toml") } throws: { e in
                "\(e)".contains(says) && "\(e)".hasPrefix("c.toml:")
            }
        }
    }
}
