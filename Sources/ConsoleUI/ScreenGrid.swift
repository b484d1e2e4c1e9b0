// A plain character grid the console draws into: testable as text, blitted to ncurses.

/// What a cell looks like, named by purpose (the terminal maps styles to colours or attributes).
public enum CellStyle: UInt8, Sendable, CaseIterable {
    case normal, dim, bold, title, key, reverse
    case meterLow, meterMid, meterHigh, peakTip, hold, clip
    case recording, warning, error, good
}

/// One column of the screen: the character's first scalar (all a terminal cell draws) and the
/// style, packed in 32 bits. A grid is then plain data without padding: a frame is built, copied
/// and compared row by row (`memcmp`) without touching String storage.
public struct Cell: Equatable, Sendable {
    /// The scalar in the low 21 bits, the style's raw value in the top 8.
    private var bits: UInt32

    public init(_ char: Character = " ", _ style: CellStyle = .normal) {
        self.init(scalar: char.unicodeScalars.first ?? " ", style)
    }
    public init(scalar: Unicode.Scalar, _ style: CellStyle = .normal) {
        bits = scalar.value | UInt32(style.rawValue) << 24
    }

    public var scalar: Unicode.Scalar {
        get { Unicode.Scalar(bits & 0x1F_FFFF)! }  // (stored from a scalar: always valid)
        set { bits = newValue.value | bits & 0xFF00_0000 }
    }
    public var style: CellStyle {
        get { CellStyle(rawValue: UInt8(bits >> 24))! }
        set { bits = bits & 0x1F_FFFF | UInt32(newValue.rawValue) << 24 }
    }
    public var char: Character {
        get { Character(scalar) }
        set { scalar = newValue.unicodeScalars.first ?? " " }
    }
}

/// A width × height grid of cells. Writes outside the grid are clipped.
public struct ScreenGrid: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { if x >= 0, y >= 0, x < width, y < height { cells[y * width + x] = newValue } }
    }

    /// Writes `text` at (x, y), clipped to `maxWidth` columns (and the grid). Returns columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: CellStyle = .normal, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(width - x, maxWidth ?? Int.max)
        var col = 0
        // Most text is ASCII: a byte is then a column, without walking grapheme clusters.
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for b in text.utf8 where col < limit {
                if x + col >= 0 { self[x + col, y] = Cell(scalar: Unicode.Scalar(b), style) }
                col += 1
            }
            return max(0, col)
        }
        for ch in text where col < limit {
            if x + col >= 0 { self[x + col, y] = Cell(ch, style) }
            col += 1
        }
        return max(0, col)
    }

    public mutating func fill(_ char: Character, x: Int, y: Int, width w: Int, style: CellStyle = .normal) {
        let cell = Cell(char, style)
        for i in 0..<max(0, w) { self[x + i, y] = cell }
    }

    /// Blanks whole rows (clipped to the grid).
    public mutating func clear(rows: Range<Int>) {
        let r = rows.clamped(to: 0..<height)
        cells.replaceSubrange(r.lowerBound * width..<r.upperBound * width, with: repeatElement(Cell(), count: r.count * width))
    }

    /// The grid as text, one line per row, trailing spaces removed (for tests and docs).
    public var text: String {
        (0..<height).map { y in
            var line = String((0..<width).map { self[$0, y].char })
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }

    /// One row's text.
    public func row(_ y: Int) -> String { String((0..<width).map { self[$0, y].char }) }
}
