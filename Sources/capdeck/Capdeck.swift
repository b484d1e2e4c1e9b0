// The capdeck executable: argument parsing and wiring. Reads like a table of contents.
import ArgumentParser
import CaptureApp
import CaptureCore
import CaptureDeck
import CaptureFiles
import Glibc

struct Capdeck: ParsableCommand {
    /// Every exit code, in the help of the commands that record (an error points to its
    /// command's --help); `devices` and `recover` list their own.
    static let exitCodes = """
        Exit codes: 0 success, 64 usage error, 65 bad input file (recover: a file left \
        untouched), 66 input file missing (recover), 69 device or sound server unavailable, \
        71 out of file descriptors at start, 73 cannot create the output file or directory, \
        74 I/O error during recording, 78 bad config file, 130 a second interrupt stopped \
        without finishing the file.
        """

    static let configuration = CommandConfiguration(
        commandName: "capdeck",
        abstract: "A recording console for Linux: capture audio from ALSA to crash-safe files.",
        discussion: exitCodes + """

            'capdeck' alone opens the console; 'capdeck record' records headless.
            """,
        version: BroadcastInfo.captureDeckVersion,
        subcommands: [ConsoleCommandLine.self, RecordCommand.self, DevicesCommand.self, RecoverCommand.self],
        defaultSubcommand: ConsoleCommandLine.self
    )
}

@main
enum Main {
    static func main() {
        StartupTrace.mark("main")
        signal(SIGPIPE, SIG_IGN)
        // Before anything can make a dispatch source: libdispatch traps if it can't make its
        // event loop later (EventLoopWarmUp says why).
        if let e = EventLoopWarmUp.run() {
            Terminal.error("cannot start: \(e)")
            exit(ExitStatus.osError.rawValue)
        }
        SoundServerIdentity.announce()
        // A capdeck that died while mix off had other programs' players paused left a journal:
        // they play again now, whatever this command is (recover too), and one line says so.
        // Not while a shell asks for completions: its line must not get a message.
        if !Completion.isIntrospection(CommandLine.arguments),
           let restored = OtherAudioCoordinator.restoreOrphanedJournal() { Terminal.error(restored) }
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command: any ParsableCommand
            do {
                command = try Capdeck.parseAsRoot()
            } catch {
                // A mistyped subcommand or long option, named with the closest the parser knows,
                // before the parser's own message (which judges the words after it first:
                // `--duraton 3` makes '3' a FILE). Only when parsing failed, as a mistyped word
                // always makes it fail: reading the parser's names (CommandNames.root, from its
                // help dump) took most of the 20 ms from main to parsed arguments at every start.
                if !Completion.isIntrospection(CommandLine.arguments), let wrong = CommandNames.root.misspelling(in: arguments) {
                    Terminal.error("\(wrong.message) (see '\(wrong.help)')")
                    exit(ExitStatus.usage.rawValue)
                }
                throw error
            }
            StartupTrace.mark("args-parsed")
            try command.run()
        } catch let failure as Failure {
            failure.report()
            exit(failure.code.rawValue)
        } catch {
            let code = Capdeck.exitCode(for: error)
            if code == .success {
                print(Capdeck.fullMessage(for: error))
                exit(0)
            }
            let message = Capdeck.message(for: error)
            if message.isEmpty { exit(code.rawValue) }
            // What to read after a mistake: the subcommand's own --help.
            Terminal.error("\(message) (see '\(CommandNames.root.helpHint(for: arguments))')")
            exit(code.rawValue)
        }
    }
}
