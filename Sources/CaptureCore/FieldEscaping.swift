// One field of a line-based, tab-separated text file (the markers sidecar, the other-audio
// journal): backslash, tab, CR and LF escaped, so a field never breaks its line or its columns.
// By scalar: "\r\n" is one Character, and must not slip through as a line break.

public enum FieldEscaping {
    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    public static func unescape<S: StringProtocol>(_ s: S) -> String {
        var out = ""
        var escaped = false
        for c in s.unicodeScalars {
            if escaped {
                switch c {
                case "t": out += "\t"
                case "n": out += "\n"
                case "r": out += "\r"
                default: out.unicodeScalars.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
