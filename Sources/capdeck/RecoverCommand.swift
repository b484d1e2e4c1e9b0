// `capdeck recover FILE...`: repairs the headers of recordings cut short by a crash.
import ArgumentParser
import CaptureApp
import CaptureFiles

struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Repair recordings cut short by a crash, keeping every whole frame on disk.",
        discussion: """
            Rewrites only the header fields that give the audio's length (WAV, RF64, W64, CAF, AIFF; for \
            FLAC the total-samples field, after counting the whole frames, also in a finished file cut \
            short afterwards) and drops a trailing partial frame (FLAC: the torn last frame). A file it \
            does not fully understand, or one a running recording still holds, is left untouched.

            Exit codes: 0 all complete or repaired, 64 usage error, 65 a file left untouched, 66 a \
            file missing, 71 out of file descriptors at start.
            """)

    @Argument(help: "Recordings to repair.", completion: Completion.recordings)
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("recover: name at least one FILE") }
    }

    func run() throws {
        var failures = 0
        var missing = 0
        for path in files {
            let (outcome, markers) = Recovery.recoverWithMarkers(path: path)
            switch outcome {
            case .alreadyComplete(let container, let frames) where markers != .none:
                print("\(path): \(container), audio complete: \(frames) frames; \(markers.note(path: path) ?? "")")
            case .alreadyComplete(let container, 0):
                // (A split take makes its next part ahead of the seam: a take that ended before it
                // leaves that part empty, a valid file of no audio.)
                print("\(path): \(container), complete but empty: no audio was recorded into it; nothing to do (remove it if you like)")
            case .alreadyComplete(let container, let frames):
                print("\(path): \(container), complete: \(frames) frames; nothing to do")
            case .repaired(let container, let headerFrames, let frames, let dropped):
                let check = Recovery.readableFrames(path: path)
                let was = headerFrames.map { "header said \($0) frames" } ?? "header gave no length"
                var line = "\(path): \(container), repaired: \(was), now \(frames) (every whole frame on disk)"
                if dropped > 0 { line += "; dropped \(dropped) byte\(dropped == 1 ? "" : "s") of a partial frame" }
                if let note = markers.note(path: path) { line += "; \(note)" }
                if let f = check.frames { line += "; opens with \(f) frames" } else {
                    line += "; but libsndfile still can't open it: \(check.error ?? "?")"
                    failures += 1
                }
                print(line)
            case .untouched(let reason):
                Terminal.error("\(path): left untouched: \(reason)")
                failures += 1
            case .missing(let reason):
                Terminal.error("\(path): \(reason)")
                missing += 1
            }
        }
        if failures > 0 { throw ExitCode(ExitStatus.dataError.rawValue) }
        if missing > 0 { throw ExitCode(ExitStatus.noInput.rawValue) }
    }
}
