// capdeck-fuzz: libFuzzer targets for the config parser and recover's header analysis.
//
// Fuzzing (make fuzz, part of make soak): built with -sanitize=fuzzer -DFUZZING,
// libFuzzer's driver calls LLVMFuzzerTestOneInput; CAPDECK_FUZZ_TARGET picks the target.
// Normal builds: a replay tool for crashes and corpora, `capdeck-fuzz config|header FILE...`.
import Glibc

/// One line on standard error (the C `stderr` global isn't concurrency-safe to name in Swift 6).
func say(_ text: String) { text.withCString { _ = write(2, $0, strlen($0)) } }

#if FUZZING
import CFuzzer

nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil {
        let name = getenv("CAPDECK_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            say("capdeck-fuzz: set CAPDECK_FUZZ_TARGET to config or header\n")
            exit(64)
        }
        selected = t
    }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected!.run(bytes)
    return 0
}

/// SwiftPM links every executable's entry point as its `main`, so libFuzzer's own main is not
/// used: this one hands the command line to libFuzzer's driver.
@main
enum FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
    }
}
#else
/// Replays files through a target: `capdeck-fuzz config|header FILE...`.
@main
enum Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let first = args.first, let target = FuzzTarget(rawValue: first), args.count > 1 else {
            say("usage: capdeck-fuzz config|header FILE...  (replays inputs through a fuzz target)\n")
            exit(64)
        }
        for path in args.dropFirst() {
            guard let f = fopen(path, "rb") else {
                say("capdeck-fuzz: \(path): \(String(cString: strerror(errno)))\n")
                exit(66)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(f)
            target.run(bytes)
        }
        print("capdeck-fuzz: \(args.count - 1) input(s) through \(target.rawValue): no failures")
    }
}
#endif
