// The render loop's frames: the whole screen is laid out again only when something outside the
// meters changed; otherwise the last frame is kept and just the meters' rows are redrawn on it.
import CaptureCore

/// Renders the console frame by frame, redoing only what changed: at 30 frames a second most
/// frames differ from the last only in the meters (or not at all), and laying out the header,
/// panels and log builds every string on the screen. Each frame equals `ConsoleLayout.render`'s
/// for the same model. Not thread-safe (the UI thread's).
public struct ConsoleRenderer {
    private var frame: ScreenGrid?
    /// The last full layout's model as `rest(of:)` sees it, and where its meters are.
    private var rest: ConsoleModel?
    private var place: ConsoleLayout.MeterPlace?
    private var levels: [ChannelLevel] = []
    private var clips: [Bool] = []

    public init() {}

    /// The frame for `m` on a `width`×`height` screen; `changed` is false when it is the last
    /// frame again (nothing to draw).
    public mutating func render(_ m: ConsoleModel, width: Int, height: Int) -> (grid: ScreenGrid, changed: Bool) {
        let r = Self.rest(of: m)
        // Overlays cover the meters: those frames are laid out whole.
        if var g = frame, g.width == width, g.height == height, let place, r == rest, m.levels.count == levels.count, m.picker == nil, !m.showHelp {
            if m.levels == levels && m.clipLatched == clips { return (g, false) }
            g.clear(rows: place.rows)
            ConsoleLayout.drawMeters(&g, m, place)
            frame = g
            levels = m.levels
            clips = m.clipLatched
            return (g, true)
        }
        var g = ScreenGrid(width: width, height: height)
        place = ConsoleLayout.draw(&g, m)
        frame = g
        rest = r
        levels = m.levels
        clips = m.clipLatched
        return (g, true)
    }

    /// Forgets the last frame: the next is laid out whole.
    public mutating func invalidate() { frame = nil }

    /// What the screen outside the meters' rows shows of `m`: the model without the meters'
    /// readings (their count, which chooses the layout, is compared apart), its times to the precision shown
    /// (the recording's whole seconds, the pre-roll's tenths), so a clock's tick between
    /// seconds costs no layout.
    static func rest(of m: ConsoleModel) -> ConsoleModel {
        var r = m
        r.levels = []
        r.clipLatched = []
        r.recordedSeconds = Double(Int(m.recordedSeconds))
        r.preRollHeldSeconds = (m.preRollHeldSeconds * 10).rounded()
        return r
    }
}
