// `capdeck` (no subcommand): the console's command line; the console itself is CaptureApp's
// ConsoleController.
import ArgumentParser
import ConsoleUI
import CaptureApp

struct ConsoleCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The recording console (the default): live meters, session rules, recording.",
        // (The parser's own synopsis said `<options>`, as if some were required: none is.)
        usage: "capdeck [console] [<options>]",
        // The keys from the console's own table (every key, in its help overlay's words).
        discussion: KeyMap.keysHelp + " " + """
            What you change with keys (1-4, c, the device picked with d) is remembered in \
            $XDG_STATE_HOME/capdeck/console.toml (default ~/.local/state/capdeck/console.toml) for the \
            next console; flags are never saved, the config file is never written, and 'capdeck record' \
            ignores what the console remembers. --reset-settings forgets it.
            """ + "\n\n" + Capdeck.exitCodes)

    @OptionGroup var capture: CaptureOptions

    @Flag(name: .customLong("reset-settings"), help: "Forget what the console remembers (the old state is kept as console.toml.old; config.toml is untouched).")
    var resetSettings = false

    func run() throws {
        let quit = SignalFlag()
        let signals = SignalHandlers { quit.raise() }  // SIGINT/TERM/HUP: save and restore the terminal
        defer { signals.cancel() }
        let config = try ConfigFile.load(capture.configFile)
        let statePath = ConsoleStateFile.defaultPath
        if resetSettings { try ConsoleStateFile.reset(path: statePath) }
        let (state, warning) = ConsoleStateFile.load(statePath)
        let console = try ConsoleController(capture.settings, config: config, state: state, statePath: statePath, signals: quit)
        if let warning { console.addEvent(warning, .warning) }
        try console.run()
    }
}
