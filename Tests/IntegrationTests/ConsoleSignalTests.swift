// SIGINT, SIGTERM and SIGHUP while the console records: the file is finished (saved, readable),
// the terminal is restored, and capdeck exits 0.
import Foundation
import Glibc
import Testing

extension Integration.ConsoleTmux {
    @Test("a signal while recording saves the file and restores the terminal", arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalWhileRecording(_ sig: Int32) async throws {
        let console = try await start()
        defer { console.shutdown() }
        try await ready(console)
        try await console.press("r")
        let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil && $0.titleBar.contains("REC") }
        let path = try #require(recording.recordingFile)
        try await Task.sleep(for: .milliseconds(800))
        // capdeck is the pane's shell's child (env execs it).
        let shell = try await console.paneFormat("pane_pid").trimmingCharacters(in: .whitespacesAndNewlines)
        let pgrep = try await runProgram(try #require(which("pgrep")), ["-P", shell], environment: ProcessInfo.processInfo.environment,
                                         scratch: home)
        let pid = try #require(pgrep.stdout.split(separator: "\n").compactMap { pid_t($0) }.first, "capdeck's pid: \(pgrep)")
        kill(pid, sig)
        #expect(try await console.waitForExit() == 0)
        let after = ConsoleScreen(try await console.screen())
        #expect(!after.contains("CaptureDeck"), "the console is gone from the pane:\n\(after)")
        #expect(after.lines.contains { $0.hasPrefix("capdeck: saved \(path): ") }, "\(after)")
        #expect(try await console.paneFormat("alternate_on") == "0", "the alternate screen is left")
        #expect(try await console.paneFormat("cursor_flag") == "1", "the cursor is back")
        let file = try SoundFile.read(path, samples: .int)
        #expect(file.frames > 24_000, "saved \(file.frames) frames")
        let r = try await Capdeck.run(["recover", path], home: home)
        #expect(r.stdout.contains("nothing to do"), "the file was finished, not just left: \(r)")
    }
}
