// Output nobody reads: stderr into a closed pipe (SIGPIPE) or closed outright. capdeck records
// and finishes the file all the same.
import Foundation
import Testing

extension Integration {
    @Suite("Broken and closed output")
    struct BrokenOutput {
        @Test("stderr into a pipe whose reader has gone (SIGPIPE), and stderr closed", arguments: ["2>&1 | true", "2>&-"])
        func recordsAnyway(_ redirection: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let exe = try Capdeck.require()
            let script = "set -o pipefail; \(TmuxConsole.quote(exe)) record -D builtin -d 1 \(TmuxConsole.quote(out)) \(redirection)"
            let r = try await runProgram(try #require(which("bash")), ["-c", script],
                                         environment: Capdeck.environment(home: home.root), scratch: home, timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            let file = try SoundFile.read(out, samples: .none)
            #expect(file.frames == 48_000)
        }
    }
}
