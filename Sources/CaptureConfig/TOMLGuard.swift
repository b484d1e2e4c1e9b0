// Inputs that crash the TOML parser underneath, caught before it sees them.
//
// TOMLKit 0.6.0 (the version this machine's package mirror holds) bundles toml++ 3.x with its
// assertions on, and toml++ asserts (SIGABRT) on a table header whose name starts with anything
// other than a key character or a quote: "[#", "[!", "[ ", "[[=" at the end of a line, and so on.
// Found by the config fuzz target (make fuzz). A config file must never crash capdeck, so the
// text is scanned first and such a header reported as a syntax error on its line.

enum TOMLGuard {
    /// The 1-based line of the first table header `[`/`[[` not followed by a key, a quoted key or
    /// `]`; nil if there is none. Tracks strings, comments and bracket depth, so a `[` that opens an
    /// array value (even one spanning lines) is not mistaken for a header.
    static func badTableHeaderLine(_ text: String) -> Int? {
        let s = Array(text.utf8)
        var i = 0, line = 1, depth = 0
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
                if depth == 0 { atStatementStart = true }
                continue
            }
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
            if atStatementStart {
                atStatementStart = false
                if c == 0x5B {  // [
                    var k = i + 1
                    if at(k) == 0x5B { k += 1 }
                    while at(k) == 0x20 || at(k) == 0x09 { k += 1 }
                    if !isKeyStart(at(k)) { return line }
                    skipToNewline()  // the rest of a header line holds no value
                    continue
                }
            }
            switch c {
            case 0x23: skipToNewline()                     // # comment
            case 0x22, 0x27: skipString(c)                 // " or '
            case 0x5B, 0x7B: depth += 1; i += 1            // [ {
            case 0x5D, 0x7D: depth = max(0, depth - 1); i += 1
            default: i += 1
            }
        }
        return nil
    }
}
