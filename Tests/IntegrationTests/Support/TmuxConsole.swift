// Driving the console like a person: capdeck runs in a pane of a private tmux server (its own
// -L socket name, its own TMUX_TMPDIR, no tmux config file), keys go in with send-keys, the screen
// comes back with capture-pane. capdeck's stdout is the pane (never redirected); the pane's shell
// prints "EXIT=N" when it ends, so the exit code can be read off the screen.
import Foundation
import Glibc

final class TmuxConsole: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let tmux: String
    /// The -L socket name: unique per console, so no other tmux server is ever touched.
    let socket: String
    /// The tmux client's scratch directory (TMUX_TMPDIR, runProgram's output files).
    let scratch: TempDir
    let target = "ui"
    private let clientEnvironment: [String: String]
    private var stopped = false
    /// When the pane (and so capdeck) was started.
    let startedAt: Double

    /// Starts `capdeck arguments` in a new detached session of `width`×`height`.
    /// capdeck's environment is exactly: PATH, LANG=C.UTF-8, TERM=xterm-256color, HOME=`home`
    /// and the XDG directories under it (see `Capdeck.environment`), then `environment` on top
    /// (e.g. PULSE_SERVER, NO_COLOR, LANG=C).
    init(_ arguments: [String], home: TempDir, environment: [String: String] = [:],
         width: Int = 100, height: Int = 32) async throws {
        guard let tmux = which("tmux") else { throw Failure(description: "tmux is needed (apt-get install tmux)") }
        let exe = try Capdeck.require()
        self.tmux = tmux
        socket = "capdeck-test-" + UUID().uuidString.prefix(12).lowercased()
        scratch = try TempDir("capdeck-tmux")
        clientEnvironment = ["PATH": "/usr/bin:/bin", "HOME": scratch.root, "TMUX_TMPDIR": scratch.root,
                             "LANG": "C.UTF-8", "TERM": "xterm-256color"]

        let base = Capdeck.environment(home: home.root)
        var env: [String: String] = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "xterm-256color"]
        for key in ["HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"] { env[key] = base[key] }
        env.merge(Capdeck.sanitizerEnvironment) { $1 }  // (empty outside `make sanitize`)
        env.merge(environment) { $1 }
        if let mine = environment["LD_PRELOAD"], let inherited = Capdeck.sanitizerEnvironment["LD_PRELOAD"], !inherited.isEmpty {
            env["LD_PRELOAD"] = mine + ":" + inherited  // as Capdeck.environment does
        }
        let assignments = env.keys.sorted().map { TmuxConsole.quote("\($0)=\(env[$0]!)") }
        let command = (["env", "-i"] + assignments + [TmuxConsole.quote(exe)] + arguments.map(TmuxConsole.quote))
            .joined(separator: " ") + "; echo EXIT=$?; sleep 60"
        startedAt = Monotonic.now
        let r = try await runTmux(["-f", "/dev/null", "new-session", "-d", "-s", target, "-x", "\(width)", "-y", "\(height)", command])
        if r.exitCode != 0 {
            shutdown()
            throw Failure(description: "tmux new-session: \(r)")
        }
    }

    deinit { shutdown() }

    /// Kills this console's tmux server (its own socket only; capdeck in the pane gets SIGHUP)
    /// and removes the scratch directory. Safe to call more than once.
    func shutdown() {
        guard !stopped else { return }
        stopped = true
        // Synchronous: deinit can't await. posix_spawn + waitpid on the tmux client only.
        if let child = try? Child(tmux, ["-L", socket, "kill-server"], environment: clientEnvironment) {
            let deadline = Monotonic.now + 5
            while child.poll() == nil && Monotonic.now < deadline { usleep(5_000) }
            child.kill()
        }
        scratch.remove()
    }

    static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    @discardableResult
    private func runTmux(_ args: [String]) async throws -> RunResult {
        try await runProgram(tmux, ["-L", socket] + args, environment: clientEnvironment, scratch: scratch, timeout: 10)
    }

    // MARK: Keys and size

    /// Presses keys, one send-keys each (tmux key names: "r", "1", "Escape", "F1"...).
    func press(_ keys: String...) async throws {
        for k in keys {
            let r = try await runTmux(["send-keys", "-t", target, k])
            if r.exitCode != 0 { throw Failure(description: "send-keys \(k): \(r)") }
        }
    }

    /// Sends several keys in one send-keys, so they arrive together (typeahead).
    func pressTogether(_ keys: [String]) async throws {
        let r = try await runTmux(["send-keys", "-t", target] + keys)
        if r.exitCode != 0 { throw Failure(description: "send-keys \(keys): \(r)") }
    }

    func resize(width: Int, height: Int) async throws {
        let r = try await runTmux(["resize-window", "-t", target, "-x", "\(width)", "-y", "\(height)"])
        if r.exitCode != 0 { throw Failure(description: "resize-window: \(r)") }
    }

    // MARK: Reading the screen

    /// The pane's text, one line per row (trailing spaces trimmed by tmux).
    func screen() async throws -> String {
        let r = try await runTmux(["capture-pane", "-t", target, "-p"])
        if r.exitCode != 0 { throw Failure(description: "capture-pane: \(r)") }
        return r.stdout
    }

    /// The pane's text with its attributes and colours as SGR escape sequences.
    func screenWithEscapes() async throws -> String {
        let r = try await runTmux(["capture-pane", "-t", target, "-p", "-e"])
        if r.exitCode != 0 { throw Failure(description: "capture-pane -e: \(r)") }
        return r.stdout
    }

    /// A tmux format variable of the pane, e.g. `alternate_on`, `cursor_flag`.
    func paneFormat(_ name: String) async throws -> String {
        let r = try await runTmux(["display-message", "-p", "-t", target, "#{\(name)}"])
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// From now on, appends every byte capdeck writes to the pane to `path` (tmux pipe-pane -o):
    /// what the terminal is sent, counted exactly, whatever the screen shows.
    func copyOutput(to path: String) async throws {
        let r = try await runTmux(["pipe-pane", "-o", "-t", target, "cat >> " + TmuxConsole.quote(path)])
        if r.exitCode != 0 { throw Failure(description: "pipe-pane: \(r)") }
    }

    /// Writes `text` straight to the pane's terminal, as another program sharing it would (a
    /// background job, `wall`): capdeck doesn't know it is there.
    func writeToTerminal(_ text: String) async throws {
        let tty = try await paneFormat("pane_tty")
        let fd = open(tty, O_WRONLY | O_NOCTTY)
        guard fd >= 0 else { throw Failure(description: "open \(tty): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw Failure(description: "write \(tty): \(String(cString: strerror(errno)))")
        }
    }

    /// Polls the screen every 40 ms until `condition` holds; returns that screen. Throws with the
    /// last screen seen (and `what`) after `timeout` seconds.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 5, _ condition: (ConsoleScreen) -> Bool) async throws -> ConsoleScreen {
        let deadline = Monotonic.now + timeout
        var last = ConsoleScreen("")
        while true {
            last = ConsoleScreen(try await screen())
            if condition(last) { return last }
            if Monotonic.now > deadline { break }
            try await Task.sleep(for: .milliseconds(40))
        }
        throw Failure(description: "waited \(timeout) s for \(what); the screen was:\n\(last.text)")
    }

    /// Waits for the pane's "EXIT=N" line; returns N.
    func waitForExit(timeout: Double = 10) async throws -> Int32 {
        let s = try await waitFor("capdeck to exit (an EXIT=N line)", timeout: timeout) { $0.exitCode != nil }
        return s.exitCode!
    }
}

extension TmuxConsole {
    /// Opens the device picker (d), moves to `pcm` and selects it (Enter). A PCM the picker
    /// doesn't list (one that can't capture here, like `jack` with no JACK server) is typed into
    /// its last item, "type a PCM name…".
    func pick(_ pcm: String) async throws {
        try await press("d")
        // Its rows too: capture-pane can catch the screen mid-redraw (under load, the footer
        // already there and the rows not yet: CI once read an empty picker).
        let s = try await waitFor("the device picker", timeout: 3) { $0.contains("Enter select") && !Self.pickerItems($0).isEmpty }
        let items = Self.pickerItems(s)
        let typed = !items.contains { $0.pcm == pcm }
        let target = typed ? "type" : pcm
        guard let want = items.firstIndex(where: { $0.pcm == target }), let at = items.firstIndex(where: { $0.selected }) else {
            throw Failure(description: "\(pcm) is not in the device picker: \(items)\n\(s)")
        }
        for _ in 0..<abs(want - at) { try await press(want > at ? "Down" : "Up") }
        try await waitFor("\(target) selected in the picker", timeout: 3) { s in
            Self.pickerItems(s).first { $0.selected }?.pcm == target
        }
        try await press("Enter")
        if typed {
            try await waitFor("the PCM name prompt", timeout: 3) { $0.contains("PCM name (Enter opens it") }
            try await type(pcm)
            try await waitFor("\(pcm) typed", timeout: 3) { $0.contains("Esc cancels): \(pcm)_") }
            try await press("Enter")
        }
    }

    /// Types `text` as it is (send-keys -l: no key names).
    func type(_ text: String) async throws {
        let r = try await runTmux(["send-keys", "-t", target, "-l", text])
        if r.exitCode != 0 { throw Failure(description: "send-keys -l \(text): \(r)") }
    }

    /// The picker's rows: the PCM name each starts with, and which one is selected ("> ").
    static func pickerItems(_ s: ConsoleScreen) -> [(pcm: String, selected: Bool)] {
        guard let top = s.lines.firstIndex(where: { $0.contains("Input device") }),
              let end = s.lines.firstIndex(where: { $0.contains("Enter select") }), end > top else { return [] }
        return s.lines[(top + 1)..<end].compactMap { l in
            let inner = l.split(separator: "│", omittingEmptySubsequences: false)
            guard inner.count >= 3 else { return nil }
            let cell = inner[inner.count - 2].trimmingCharacters(in: .whitespaces)
            let selected = cell.hasPrefix("> ")
            let name = (selected ? String(cell.dropFirst(2)) : cell).split(separator: " ").first.map(String.init)
            return name.map { ($0, selected) }
        }
    }
}

/// One capture of the console's screen, with readers for its panels.
struct ConsoleScreen: CustomStringConvertible {
    let text: String
    let lines: [String]

    init(_ text: String) {
        self.text = text
        var l = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if l.last == "" { l.removeLast() }
        lines = l
    }

    var description: String { text }

    func contains(_ s: String) -> Bool { text.contains(s) }

    /// The screen's words as one line: each row trimmed, the non-empty ones joined by a space
    /// (a notice wrapped to a narrow terminal reads as it was written).
    var joinedText: String {
        lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The exit code the pane's shell printed ("EXIT=N"), if capdeck has ended.
    var exitCode: Int32? {
        for l in lines where l.hasPrefix("EXIT=") { return Int32(l.dropFirst(5)) }
        return nil
    }

    /// The full layout is showing (title bar and footer), not the "too small" notice.
    var isConsole: Bool {
        lines.first?.hasPrefix(" CaptureDeck ") == true && lines.last { !$0.isEmpty }?.contains("q quit") == true
    }

    var titleBar: String { lines.first ?? "" }

    // MARK: Header

    /// "Route PCM (KIND)" in the header.
    var route: (pcm: String, kind: String)? {
        for l in lines.prefix(3) {
            guard let r = l.range(of: #"Route (\S+) \(([^)]*)\)"#, options: .regularExpression) else { continue }
            let m = String(l[r]).dropFirst("Route ".count)
            guard let open = m.lastIndex(of: "(") else { continue }
            return (String(m[..<open]).trimmingCharacters(in: .whitespaces), String(m[m.index(after: open)...].dropLast()))
        }
        return nil
    }

    // MARK: Meters

    struct Meter: CustomStringConvertible {
        var label: String
        /// The row as drawn.
        var row: String
        /// The bar: the columns between the label and the numbers (the blank before them excluded).
        var bar: String
        var peak: Double?
        var rms: Double?
        var description: String { "\(label): \(peak.map { String($0) } ?? "-inf") pk \(rms.map { String($0) } ?? "-inf") rms" }
    }

    /// The meter rows ("L", "R", "M" or a channel number), in order.
    var meters: [Meter] {
        var out: [Meter] = []
        let number = #"(-?[0-9]+\.[0-9]|-inf)"#
        for l in lines {
            guard let r = l.range(of: #"^ ([LRM]|[1-8])  "#, options: .regularExpression),
                  let n = l.range(of: number + #" pk +"# + number + " rms", options: .regularExpression) else { continue }
            let label = l[r].trimmingCharacters(in: .whitespaces)
            let words = l[n].split(separator: " ")
            // The peak number is right-aligned in 6 columns after one blank column: the bar ends
            // 7 columns before " pk".
            let chars = Array(l)
            let labelEnd = l.distance(from: l.startIndex, to: r.upperBound)
            let pk = l.distance(from: l.startIndex, to: l.range(of: " pk", range: n)!.lowerBound)
            let barEnd = max(labelEnd, pk - 7)
            out.append(Meter(label: label, row: l, bar: String(chars[labelEnd..<barEnd]),
                             peak: Double(words[0]), rms: Double(words[2])))
        }
        return out
    }

    // MARK: Capture session panel

    struct PropertyRow: CustomStringConvertible {
        var key: Int
        var name: String
        var state: String
        var defaultValue: String
        var isDefault: Bool
        var effect: String
        var description: String { "\(key) \(name): \(state) (default \(defaultValue)\(isDefault ? "*" : "")) \(effect)" }
    }

    /// The four rows under "Capture session", by key (1-4).
    var properties: [Int: PropertyRow] {
        guard let top = lines.firstIndex(where: { $0.hasPrefix("Capture session") }) else { return [:] }
        var out: [Int: PropertyRow] = [:]
        let pattern = #"^ ([1-4])  (.+?) +(ON|off) +(on|off) ?(\*?) +(\S.*)$"#
        let re = try! NSRegularExpression(pattern: pattern)
        for l in lines[(top + 1)..<min(lines.count, top + 5)] {
            let ns = l as NSString
            guard let m = re.firstMatch(in: l, range: NSRange(location: 0, length: ns.length)) else { continue }
            let g = { (i: Int) in ns.substring(with: m.range(at: i)) }
            let key = Int(g(1))!
            out[key] = PropertyRow(key: key, name: g(2), state: g(3), defaultValue: g(4), isDefault: g(5) == "*",
                                   effect: g(6))
        }
        return out
    }

    // MARK: Recording panel and events

    /// The path on the Recording panel's "File" line while a file is open.
    var recordingFile: String? {
        guard let l = lines.first(where: { $0.hasPrefix("File ") }), !l.hasPrefix("File next file goes in") else { return nil }
        return String(l.dropFirst(5))
    }

    /// The Recording panel's elapsed time in seconds ("00:00:03").
    var recordedSeconds: Int? {
        guard let l = lines.first(where: { $0.hasPrefix("Recording ") }),
              let r = l.range(of: #"[0-9]{2}:[0-9]{2}:[0-9]{2}"#, options: .regularExpression) else { return nil }
        let p = l[r].split(separator: ":").compactMap { Int($0) }
        return p[0] * 3600 + p[1] * 60 + p[2]
    }

    /// The event log's events without their time stamps, oldest first; a long event's rows
    /// (wrapped under its text, 9 columns in) joined into one with a space. (A word longer than
    /// a row, broken where the row ends, comes back with a space in it: no test's path is that
    /// long.)
    var events: [String] {
        guard let top = lines.lastIndex(of: "Events") else { return [] }
        var out: [String] = []
        var continues = false
        for l in lines[(top + 1)...] {
            if l.range(of: #"^[0-9]{2}:[0-9]{2}:[0-9]{2} "#, options: .regularExpression) != nil {
                out.append(String(l.dropFirst(9)))
                continues = true
            } else if continues, l.hasPrefix(String(repeating: " ", count: 9)), l.dropFirst(9).first.map({ $0 != " " }) == true {
                out[out.count - 1] += " " + l.dropFirst(9)
            } else {
                continues = false
            }
        }
        return out
    }

    /// The prompt line above the footer, if one is showing.
    var prompt: String? {
        lines.first { $0.contains("(y/n)") }?.trimmingCharacters(in: .whitespaces)
    }
}

/// SGR escape sequences in capture-pane -e output.
enum SGR {
    /// Every SGR sequence's parameter list, in order.
    static func sequences(in text: String) -> [[Int]] {
        var out: [[Int]] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i + 1 < scalars.count {
            if scalars[i] == "\u{1B}" && scalars[i + 1] == "[" {
                var j = i + 2
                var params = ""
                while j < scalars.count, scalars[j] == ";" || ("0"..."9").contains(scalars[j]) {
                    params.unicodeScalars.append(scalars[j])
                    j += 1
                }
                if j < scalars.count && scalars[j] == "m" {
                    out.append(params.isEmpty ? [0] : params.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 })
                }
                i = j
            } else {
                i += 1
            }
        }
        return out
    }

    /// The colour-setting parameters among `sequences` (foreground/background 30-38, 40-48,
    /// 90-97, 100-107; 39 and 49 only reset to the default colours and don't count).
    static func colours(in text: String) -> [Int] {
        sequences(in: text).flatMap { seq -> [Int] in
            var found: [Int] = []
            var k = 0
            while k < seq.count {
                let p = seq[k]
                if p == 38 || p == 48 {
                    found.append(p)
                    k += (k + 1 < seq.count && seq[k + 1] == 5) ? 3 : 5  // 38;5;N or 38;2;R;G;B
                    continue
                }
                if (30...37).contains(p) || (40...47).contains(p) || (90...97).contains(p) || (100...107).contains(p) {
                    found.append(p)
                }
                k += 1
            }
            return found
        }
    }

    /// `text` without its escape sequences.
    static func strip(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*[A-Za-z]", with: "", options: .regularExpression)
    }
}
