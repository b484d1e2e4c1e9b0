// Generated bad input for every flag: empty, non-numeric, negative, huge and non-finite values.
// Each must give exactly one `capdeck: ` line naming the flag, exit 64, and create no file.
import Foundation
import Testing

extension Integration {
    @Suite("Bad input table")
    struct BadInputTable {
        struct Case: Sendable, CustomTestStringConvertible {
            var args: [String]
            var flag: String
            var testDescription: String { args.joined(separator: " ") }
        }

        static let numericFlags = ["-r", "-c", "-F", "-B", "--rt-priority", "-d", "--reconnect-wait"]
        static let numericValues = ["", "abc", "12abc", "99999999999999999999", "1e999", "nan", "inf", "0x10", " "]
        static let wordFlags = [("-f", "S12_LE"), ("-t", "mp3"), ("--meter", "ppm3")]
        static let nameFlags = ["-D", "--exclusive-device", "--shared-device", "--bluetooth-hq-device", "--bluetooth-hfp-device",
                                "-o", "--config", "--name"]

        static let cases: [Case] = {
            var out: [Case] = []
            for f in numericFlags {
                for v in numericValues { out.append(Case(args: [f, v], flag: f)) }
                if f != "-d" { out.append(Case(args: [f, "-5"], flag: f)) }
            }
            out.append(Case(args: ["-d", "-1"], flag: "-d"))
            out.append(Case(args: ["-r", "7999"], flag: "-r"))
            out.append(Case(args: ["-r", "384001"], flag: "-r"))
            out.append(Case(args: ["-c", "65"], flag: "-c"))
            out.append(Case(args: ["-c", "0"], flag: "-c"))
            out.append(Case(args: ["--rt-priority", "100"], flag: "--rt-priority"))
            for (f, bad) in wordFlags {
                out.append(Case(args: [f, ""], flag: f))
                out.append(Case(args: [f, bad], flag: f))
            }
            for f in nameFlags { out.append(Case(args: [f, ""], flag: f)) }
            out.append(Case(args: ["-D", "builtin:sine:0"], flag: "-D"))
            out.append(Case(args: ["-D", "builtin:loud"], flag: "-D"))
            out.append(Case(args: ["--name", "a/b"], flag: "--name"))
            out.append(Case(args: ["--name", "x%ny"], flag: "--name"))
            out.append(Case(args: ["-o", "/tmp/\u{1}x"], flag: "-o"))
            out.append(Case(args: ["-B", "5000", "-F", "10000"], flag: "-B"))
            return out
        }()

        @Test(arguments: cases)
        func rejected(_ c: Case) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-q"] + c.args + ["-d", "1", out].filter { _ in !c.args.contains("-d") }
                                          + (c.args.contains("-d") ? [out] : []), home: home, timeout: 15)
            #expect(r.exitCode == 64, "\(c.args): \(r)")
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            #expect(lines.count == 1 && lines[0].hasPrefix("capdeck: "), "\(c.args): \(r.stderr)")
            let short = c.flag.hasPrefix("--") ? c.flag : c.flag
            let named = r.stderr.contains(short) || r.stderr.contains(c.flag.replacingOccurrences(of: "-", with: ""))
            #expect(named, "the message names \(c.flag): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Backtrac"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "no file for rejected input")
        }
    }
}
