// A storm of terminal resizes (SIGWINCH) while recording: no crash, the layout follows, and the
// recording is unharmed.
import Foundation
import Testing

extension Integration.ConsoleTmux {
    @Test("40 resizes in a row while recording")
    func resizeStorm() async throws {
        let console = try await start()
        defer { console.shutdown() }
        try await ready(console)
        try await console.press("r")
        let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
        let path = try #require(recording.recordingFile)
        for i in 0..<40 {
            try await console.resize(width: 50 + (i * 7) % 80, height: 12 + (i * 5) % 30)
        }
        try await console.resize(width: 100, height: 32)
        let back = try await console.waitFor("the full layout", timeout: 5) { $0.isConsole && $0.meters.count == 2 && $0.recordingFile == path }
        #expect(back.titleBar.contains("REC"))
        try await console.press("r")
        try await console.waitFor("the saved event", timeout: 5) { s in s.events.contains { $0.contains("saved \(path)") } }
        try await console.press("q")
        #expect(try await console.waitForExit() == 0)
        let file = try SoundFile.read(path, samples: .int)
        #expect(file.frames > 4_800, "a valid file with the recorded audio: \(file.frames) frames")
        let r = try await Capdeck.run(["recover", path], home: home)
        #expect(r.stdout.contains("nothing to do"), "\(r)")
    }
}
