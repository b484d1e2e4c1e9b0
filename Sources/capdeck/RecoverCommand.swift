// `capdeck recover FILE...`: repairs the headers of recordings cut short by a crash.
import ArgumentParser
import CaptureFiles

struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Repair recordings cut short by a crash, keeping every whole frame on disk.",
        discussion: """
            Rewrites only the header fields that give the audio's length (WAV, RF64, W64, CAF) and \
            drops a trailing partial frame. A file it does not fully understand is left untouched. \
            FLAC needs no repair: readers decode every complete FLAC frame.
            """)

    @Argument(help: "Recordings to repair.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("recover: name at least one FILE") }
    }

    func run() throws {
        var failures = 0
        for path in files {
            switch Recovery.recover(path: path) {
            case .alreadyComplete(let container, let frames):
                print("\(path): \(container), complete: \(frames) frames; nothing to do")
            case .repaired(let container, let headerFrames, let frames, let dropped):
                let check = Recovery.readableFrames(path: path)
                var line = "\(path): \(container), repaired: header said \(headerFrames) frames, now \(frames) (every whole frame on disk)"
                if dropped > 0 { line += "; dropped \(dropped) bytes of a partial frame" }
                if let f = check.frames { line += "; opens with \(f) frames" } else {
                    line += "; but libsndfile still can't open it: \(check.error ?? "?")"
                    failures += 1
                }
                print(line)
            case .untouched(let reason):
                if path.lowercased().hasSuffix(".flac"), let f = Recovery.readableFrames(path: path).frames {
                    print("\(path): FLAC, opens with \(f) frames; nothing to do")
                    continue
                }
                Terminal.error("\(path): left untouched: \(reason)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(ExitStatus.dataError.rawValue) }
    }
}
