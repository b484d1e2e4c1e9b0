// The console's terminal: ncursesw setup and restore, colours by purpose, drawing a ScreenGrid
// (only the cells that changed), and key input with a frame-rate timeout.
import CNcursesW
import ConsoleUI
import Glibc

/// Owns the terminal while the console runs. Main thread only.
public final class NcursesTerminal {
    public let color: Bool
    public let unicode: Bool
    private var previous: ScreenGrid?
    /// A run of changed cells for mvaddwstr, kept between frames (no allocation per run).
    private var run: [wchar_t] = []
    private var active = false
    private var screen: OpaquePointer?
    private var stderrCapture: StderrCapture?

    /// Starts ncurses. `color` is false for NO_COLOR or monochrome terminals; `unicode` is false
    /// when the locale is not UTF-8 (block glyphs then fall back to ASCII). While it runs, what is
    /// written to stderr (fd 2) goes to `onStderrLine` instead of over the screen.
    public init(noColor: Bool, onStderrLine: (@Sendable (String) -> Void)? = nil) throws(TerminalError) {
        guard let term = getenv("TERM").map({ String(cString: $0) }), !term.isEmpty, term != "dumb" else {
            throw .unsuitable("TERM is unset or 'dumb'; the console needs a real terminal (use 'capdeck record' for headless recording)")
        }
        guard isatty(0) == 1, isatty(1) == 1 else {
            throw .unsuitable("standard input and output must be a terminal for the console (use 'capdeck record' for headless recording)")
        }
        setlocale(LC_ALL, "")  // without it ncursesw draws no wide characters
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = codeset.uppercased() == "UTF-8"
        // newterm, not initscr: initscr prints ncurses' own error and exits on an unknown TERM.
        guard let screen = CNcursesW_newterm(term) else {
            throw .unknownTerminal("the terminal type '\(NcursesTerminal.printable(term))' is unknown here (no terminfo entry); try TERM=xterm-256color capdeck, or install its terminfo (ncurses-term)")
        }
        self.screen = screen
        active = true
        if let onStderrLine { stderrCapture = StderrCapture(onLine: onStderrLine) }
        cbreak()
        noecho()
        nonl()
        keypad(CNcursesW_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        timeout(33)
        color = !noColor && has_colors()
        if color {
            start_color()
            use_default_colors()
            // Pair n + 1 is the style whose raw value is n (`draw`).
            for style in CellStyle.allCases {
                let (fg, bg) = NcursesTerminal.colors(style)
                init_pair(Int16(style.rawValue) + 1, fg, bg)
            }
        }
    }

    deinit { restore() }

    /// Puts the terminal back as it was, stderr included. Safe to call more than once (and from
    /// error paths).
    public func restore() {
        guard active else { return }
        active = false
        stderrCapture?.restore()
        stderrCapture = nil
        curs_set(1)
        endwin()
        if let screen { delscreen(screen) }
        screen = nil
    }

    /// A TERM value as one printable line.
    static func printable(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }

    public var size: (width: Int, height: Int) {
        (Int(CNcursesW_cols()), Int(CNcursesW_lines()))
    }

    /// Waits up to the frame timeout for a key; nil when none.
    public func readKey() -> Int32? {
        let k = getch()
        return k == ERR ? nil : k
    }

    /// ncurses' resize key (it handles SIGWINCH itself).
    public static let resizeKey: Int32 = KEY_RESIZE

    static func colors(_ s: CellStyle) -> (Int16, Int16) {
        switch s {
        case .meterLow, .good: (Int16(COLOR_GREEN), -1)
        case .meterMid, .warning: (Int16(COLOR_YELLOW), -1)
        case .meterHigh, .error, .clip, .recording: (Int16(COLOR_RED), -1)
        case .peakTip: (Int16(COLOR_WHITE), -1)
        case .hold: (Int16(COLOR_CYAN), -1)
        case .title, .key: (Int16(COLOR_CYAN), -1)
        default: (-1, -1)
        }
    }

    func attributes(_ s: CellStyle) -> attr_t {
        var a: attr_t = 0
        switch s {
        case .dim: a |= CNcursesW_dim()
        case .bold, .title, .peakTip, .clip, .recording, .error: a |= CNcursesW_bold()
        case .reverse: a |= CNcursesW_reverse()
        case .key: a |= CNcursesW_bold()
        default: break
        }
        // Without colour, the meter zones and states still differ by attribute.
        if !color {
            switch s {
            case .meterHigh, .clip, .recording, .error, .warning: a |= CNcursesW_bold()
            case .meterLow: a |= CNcursesW_dim()
            default: break
            }
        }
        return a
    }

    /// Draws `grid`, writing only the runs of cells that changed since the last frame; a frame
    /// like the last one costs no ncurses call and no terminal output at all. Returns whether
    /// anything was written.
    @discardableResult
    public func draw(_ grid: ScreenGrid) -> Bool {
        let full = previous == nil || previous!.width != grid.width || previous!.height != grid.height
        if full { erase() }
        var wrote = full
        let w = grid.width
        let last = previous?.cells ?? []
        last.withUnsafeBufferPointer { old in
            grid.cells.withUnsafeBufferPointer { cells in
                for y in 0..<grid.height {
                    let row = y * w
                    // A row as it was: skipped whole (a cell is 32 bits, no padding).
                    if !full, w > 0, memcmp(old.baseAddress! + row, cells.baseAddress! + row, w * MemoryLayout<Cell>.stride) == 0 { continue }
                    var x = 0
                    while x < w {
                        if !full, old[row + x] == cells[row + x] { x += 1; continue }
                        let style = cells[row + x].style
                        run.removeAll(keepingCapacity: true)
                        let start = x
                        while x < w && cells[row + x].style == style && (full || old[row + x] != cells[row + x]) {
                            run.append(wchar_t(bitPattern: cells[row + x].scalar.value))
                            x += 1
                        }
                        // The bottom-right cell can't take a character without scrolling in some terminals.
                        if y == grid.height - 1 && x == w { run.removeLast(); if run.isEmpty { continue } }
                        attr_set(attributes(style), color ? Int16(style.rawValue) + 1 : 0, nil)
                        run.append(0)
                        _ = mvaddwstr(Int32(y), Int32(start), run)
                        wrote = true
                    }
                }
            }
        }
        previous = grid
        guard wrote else { return false }
        attr_set(0, 0, nil)
        refresh()
        return true
    }

    /// Forgets the last frame (after a resize), so the next draw repaints everything.
    public func invalidate() { previous = nil }

    /// Ctrl-L: the next draw clears the real terminal and repaints every cell, whatever
    /// something else wrote over it.
    public func repaintAll() {
        CNcursesW_clearAll()
        previous = nil
    }
}

public enum TerminalError: Error, CustomStringConvertible {
    case unsuitable(String)
    case unknownTerminal(String)
    public var description: String {
        switch self { case .unsuitable(let s), .unknownTerminal(let s): s }
    }
}
