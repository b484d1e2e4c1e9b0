// Inputs that crash the TOML parser underneath, caught before it sees them.
//
// TOMLKit 0.6.0 (the version this machine's package mirror holds) bundles toml++ 3.x with its
// assertions on, and toml++ asserts (SIGABRT) on two kinds of input, both found by the config
// fuzz target (make fuzz):
//  - a table header whose name starts with anything other than a key character or a quote:
//    "[#", "[!", "[[=", a "[" at the end of a line…;
//  - a "}" where an array expects a value: "a = [}", "a = [1, }", "a = {b = [}".
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
        let s = Array(text.utf8)
        var i = s.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a byte-order mark
        var line = 1
        var open: [UInt8] = []  // the [ and { of values, innermost last
        var lastSignificant: UInt8 = 0  // the last character outside strings and comments
        var atStatementStart = true
        func at(_ k: Int) -> UInt8? { k < s.count ? s[k] : nil }
        func isKeyStart(_ c: UInt8?) -> Bool {
            guard let c else { return false }
            return (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                || c == 0x5F || c == 0x2D || c == 0x22 || c == 0x27 || c == 0x5D  // _ - " ' ]
        }
        func skipToNewline() { while i < s.count && s[i] != 0x0A { i += 1 } }
        /// Skips a string starting at i (the quote), counting the lines it spans.
        func skipString(_ q: UInt8) {
            let triple = at(i + 1) == q && at(i + 2) == q
            i += triple ? 3 : 1
            while i < s.count {
                let c = s[i]
                if c == 0x5C && q == 0x22 { i += 2; continue }  // an escape in a basic string
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
            default: i += 1
            }
            lastSignificant = c
        }
        return nil
    }
}
