// What the console remembers must never keep it from opening: a category that can't record, with
// automatic configuration off (both remembered), is the user's to change with c or 2 in the
// console, which must open to let them.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("The console's remembered state")
    struct ConsoleRememberedState {
        /// A new user's trial: `2` then `c` in one console left `auto-configure = false` and
        /// `category = "ambient"` in console.toml; the next console exited 69 ("builtin, the input
        /// the console remembers, can't be opened: cannot start: …") and could not be opened to
        /// undo it. Now it opens, not capturing, says why and which keys fix it; `2` starts capture.
        @Test("a remembered category that can't record (auto-configure off): the console opens, says why, and 2 starts capture")
        func aCategoryThatCantRecordDoesNotKeepTheConsoleShut() async throws {
            let home = try TempDir()
            defer { home.remove() }
            try FileManager.default.createDirectory(atPath: home.path(".local/state/capdeck"), withIntermediateDirectories: true)
            try home.write(".local/state/capdeck/console.toml",
                           "[session]\nauto-configure = false\n\n[app-session]\ncategory = \"ambient\"\n\n[input]\ndevice = \"builtin\"\n")
            let console = try await TmuxConsole([], home: home, width: 120, height: 36)
            defer { console.shutdown() }
            let shut = try await console.waitFor("the console, not capturing, saying why", timeout: 10) { s in
                s.isConsole && s.events.contains { $0.hasPrefix("not capturing: category 'ambient' can't record with auto-configure off (c: a category that can, or 2: auto-configure on)") }
            }
            #expect(shut.titleBar.contains("not capturing"), "\(shut.titleBar)")
            try await console.press("2")
            let running = try await console.waitFor("capture started by 2", timeout: 10) { s in
                s.route?.pcm == "builtin" && (s.meters.first?.peak ?? -200) > -30
            }
            #expect(running.events.contains { $0.hasPrefix("capturing builtin") }, "\(running.events)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }
    }
}
