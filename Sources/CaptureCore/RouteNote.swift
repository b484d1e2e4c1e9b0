// What a recording's metadata says of a route change (the Broadcast Wave coding history).

/// The route a recording continues on after a change: the device now capturing, its kind of
/// route, and the format that device delivers (before any rate conversion). It rides on the
/// change's marker (`RecordingMarker.route`), so it reaches the file on the writer queue, at
/// the marker's frame and in the part of a split take that frame falls in.
public struct RouteNote: Sendable, Equatable {
    public var route: Route
    public var format: StreamFormat
    public init(route: Route, format: StreamFormat) {
        self.route = route
        self.format = format
    }
}
