// Inputs that crash the TOML parser underneath, caught before it sees them.
//
// toml++ 3.x (Debian's 3.3.0, compiled into capdeck by Sources/CTOMLParse with its assertions on,
// as TOMLKit 0.6.0 did before it) asserts (SIGABRT) on these inputs, found by the config fuzz
// target (make fuzz):
//  - a table header whose name starts with anything other than a key character or a quote:
//    "[#", "[!", "[[=", a "[" at the end of a line…;
//  - a "}" where an array expects a value: "a = [}", "a = [1, }", "a = {b = [}";
//  - a date, a space and one digit: "a = 2024-01-01 1" (before a line end, "]", "}"…);
//  - whitespace TOML doesn't allow, where a value is expected: "o = [" then U+0085, "\v"…
// A config file must never crash capdeck, so the text is scanned first and these are reported as
// syntax errors on their line.

enum TOMLGuard {
    struct Finding: Equatable {
        var line: Int
        var message: String
    }

    /// The first input toml++ would abort on, with its 1-based line; nil if there is none. Tracks
    /// strings, comments and open brackets, so a `[` that opens an array value (even one spanning
    /// lines) is not mistaken for a header, and brackets inside strings don't count.
    static func check(_ text: String) -> Finding? {
        // Code points, as toml++ counts them.
        let s = text.unicodeScalars.map(\.value)
        var i = s.first == 0xFEFF ? 1 : 0  // a byte-order mark
        var line = 1
        var open: [UInt32] = []  // the [ and { of values, innermost last
        var lastSignificant: UInt32 = 0  // the last character outside strings and comments
        var atStatementStart = true
        func at(_ k: Int) -> UInt32? { k < s.count ? s[k] : nil }
        func isDigit(_ c: UInt32?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        /// toml++'s value terminators: whitespace, line ends, ] } , #.
        func isTerminator(_ c: UInt32?) -> Bool {
            guard let c else { return false }
            return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x5D || c == 0x7D || c == 0x2C || c == 0x23
        }
        /// A value toml++ scans as a date with a space instead of a T ("2024-01-01 1"): 10
        /// characters (underscores aside) starting with a digit, '-' 5th and 8th, then a space,
        /// one digit and a terminator. Never valid TOML, and toml++ asserts on it.
        func isDateThenLoneDigit(at start: Int) -> Bool {
            guard isDigit(at(start)), start == 0 || isTerminator(at(start - 1)) || at(start - 1) == 0x3D || at(start - 1) == 0x5B else { return false }
            var chars: [UInt32] = []
            var k = start
            while k < s.count && !isTerminator(s[k]) && chars.count <= 10 {
                if s[k] != 0x5F { chars.append(s[k]) }
                k += 1
            }
            return chars.count == 10 && chars[4] == 0x2D && chars[7] == 0x2D
                && at(k) == 0x20 && isDigit(at(k + 1)) && isTerminator(at(k + 2))
        }
        /// Whitespace TOML never allows outside strings and comments, which toml++ counts as a
        /// value terminator: vertical tab, form feed, a CR without LF, and Unicode spaces and line
        /// separators ("o=[" then U+0085 made it abort).
        func isStrayWhitespace(_ c: UInt32, next: UInt32?) -> Bool {
            switch c {
            case 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x180E, 0x2000...0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x2060, 0x3000, 0xFEFF:
                return true
            case 0x0D:
                return next != 0x0A
            default:
                return false
            }
        }
        func isKeyStart(_ c: UInt32?) -> Bool {
            guard let c else { return false }
            return (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                || c == 0x5F || c == 0x2D || c == 0x22 || c == 0x27 || c == 0x5D  // _ - " ' ]
        }
        func skipToNewline() { while i < s.count && s[i] != 0x0A { i += 1 } }
        /// Skips a string starting at i (the quote), counting the lines it spans.
        func skipString(_ q: UInt32) {
            let triple = at(i + 1) == q && at(i + 2) == q
            i += triple ? 3 : 1
            while i < s.count {
                let c = s[i]
                if c == 0x5C && q == 0x22 {  // an escape in a basic string (a line-ending one too)
                    if at(i + 1) == 0x0A { line += 1 }
                    i += 2
                    continue
                }
                if c == 0x0A {
                    if !triple { return }  // unterminated: the parser reports it
                    line += 1
                }
                if c == q && (!triple || (at(i + 1) == q && at(i + 2) == q)) {
                    i += triple ? 3 : 1
                    return
                }
                i += 1
            }
        }
        while i < s.count {
            let c = s[i]
            if c == 0x0A {
                line += 1
                i += 1
                if open.isEmpty { atStatementStart = true }
                continue
            }
            if isStrayWhitespace(c, next: at(i + 1)) {
                let hex = String(c, radix: 16, uppercase: true)
                return Finding(line: line, message: "U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) is not allowed here: only spaces, tabs and line breaks")
            }
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
            if atStatementStart {
                atStatementStart = false
                if c == 0x5B {  // [
                    var k = i + 1
                    if at(k) == 0x5B { k += 1 }
                    while at(k) == 0x20 || at(k) == 0x09 { k += 1 }
                    if !isKeyStart(at(k)) { return Finding(line: line, message: "expected a table name after '['") }
                    skipToNewline()  // the rest of a header line holds no value
                    continue
                }
            }
            switch c {
            case 0x23: skipToNewline(); continue           // # comment
            case 0x22, 0x27: skipString(c)                 // " or '
            case 0x5B, 0x7B: open.append(c); i += 1        // [ {
            case 0x5D: _ = open.popLast(); i += 1          // ]
            case 0x7D:                                     // }
                if open.last == 0x5B && (lastSignificant == 0x5B || lastSignificant == 0x2C) {
                    return Finding(line: line, message: "expected a value in the array, found '}'")
                }
                _ = open.popLast(); i += 1
            default:
                if isDateThenLoneDigit(at: i) {
                    return Finding(line: line, message: "a date must be followed by a time such as 12:00:00, not a lone digit")
                }
                i += 1
            }
            lastSignificant = c
        }
        return nil
    }
}
