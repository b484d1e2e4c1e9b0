// Every input a fuzz target once failed on (Tests/FuzzCorpus) goes through that target again: the
// replay build of capdeck-fuzz runs the same checks as the libFuzzer build (no trap; one-line
// config errors; a repair plan that leaves a consistent header). See `make fuzz`.
import Foundation
import Testing

extension Integration {
    @Suite("Fuzz regressions")
    struct FuzzRegressions {
        static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("FuzzCorpus").path

        @Test("each past find replays cleanly through its target", arguments: ["config", "header"])
        func replay(_ target: String) async throws {
            let exe = URL(fileURLWithPath: try Capdeck.require()).deletingLastPathComponent().appendingPathComponent("capdeck-fuzz").path
            let dir = Self.corpus + "/" + target
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { dir + "/" + $0 }
            #expect(!files.isEmpty, "no corpus in \(dir)")
            let home = try TempDir()
            defer { home.remove() }
            let r = try await runProgram(exe, [target] + files, environment: Capdeck.sanitizerEnvironment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 },
                                         scratch: home)
            #expect(r.exitCode == 0 && r.stdout.contains("\(files.count) input(s) through \(target): no failures"), "\(r)")
        }
    }
}
