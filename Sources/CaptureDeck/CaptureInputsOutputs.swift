// Inputs and outputs of a CaptureSession: the device input and the output protocol (the outputs
// themselves: FileOutput.swift, DataOutput.swift; how frames reach them: OutputFanOut.swift).
import CaptureALSA
import CaptureCore

/// An audio input: one logical microphone and the PCMs it can be opened through, by access kind.
/// (`AVCaptureDeviceInput`.)
public final class CaptureDeviceInput: Sendable {
    /// A name for display ("Built-in mic", "hw:0", "builtin").
    public let name: String
    /// The PCM for each access kind.
    public let routes: InputRoutes
    /// The format recorded (and, without a channel selection, asked of the device).
    public let format: StreamFormat
    public let periodMicros: Int?
    public let bufferMicros: Int?
    /// The device channels recorded, in order (nil: the first `format.channels`). The device is
    /// asked for every channel up to the highest selected; `format.channels` is the selection's count.
    public let channelSelection: ChannelSelection?

    /// `channelSelection` sets the recorded channel count (`format.channels` is replaced by its count).
    public init(name: String, routes: InputRoutes, format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2),
                periodMicros: Int? = nil, bufferMicros: Int? = nil, channelSelection: ChannelSelection? = nil) {
        self.name = name
        self.routes = routes
        var recorded = format
        if let channelSelection { recorded.channels = channelSelection.count }
        self.format = recorded
        self.periodMicros = periodMicros
        self.bufferMicros = bufferMicros
        self.channelSelection = channelSelection
        sourceFactory = nil
    }

    /// With the sources made by `makeSource` (tests: scripted sources standing in for devices).
    init(name: String, routes: InputRoutes, format: StreamFormat, makeSource: @escaping @Sendable (Route) -> any CaptureSource) {
        self.name = name
        self.routes = routes
        self.format = format
        periodMicros = nil
        bufferMicros = nil
        channelSelection = nil
        sourceFactory = makeSource
    }

    private let sourceFactory: (@Sendable (Route) -> any CaptureSource)?

    var request: CaptureRequest {
        var asked = format
        if let channelSelection { asked.channels = channelSelection.deviceChannels }
        return CaptureRequest(format: asked, periodMicros: periodMicros, bufferMicros: bufferMicros)
    }

    /// Opens a route's PCM: `builtin[:signal]` is the built-in source, anything else ALSA.
    /// Exclusive routes claim the PCM among CaptureDeck processes (ALSA hardware does so itself);
    /// an exclusive card view (`hw:N`, `plughw:N`) first reserves card N on the session bus
    /// (`ReservedCardSource`), so a sound server holding it lets go.
    func makeDevice(_ route: Route) -> any CaptureSource {
        if let sourceFactory { return sourceFactory(route) }
        if route.pcm == "builtin" || route.pcm.hasPrefix("builtin:") {
            let spec = route.pcm == "builtin" ? "" : String(route.pcm.dropFirst("builtin:".count))
            return BuiltInSource(signal: TestSignal(spec: spec) ?? .defaultSine, paced: true, name: route.pcm)
        }
        let access: AccessKind = switch route.kind {
        case .exclusive: .exclusive
        case .shared: DeviceCatalog.accessKind(forPCM: route.pcm) == .soundServer ? .soundServer : .shared
        case .bluetoothHQ, .bluetoothHFP: .bluetooth
        }
        let alsa = ALSACaptureSource(name: route.pcm, accessKind: access, claimsExclusively: route.kind == .exclusive)
        // A card view taken exclusively: reserve the card first, so a sound server lets go of it.
        if route.kind == .exclusive, let card = DeviceCatalog.cardIndex(forExclusivePCM: route.pcm) {
            return ReservedCardSource(inner: alsa, card: card)
        }
        return alsa
    }
}

/// Something the session delivers captured audio to.
public protocol CaptureOutput: AnyObject, Sendable {}

extension CaptureDeviceInput {
    /// Opens `route`'s PCM with this input's request and closes it again: nil when it opens now,
    /// else the error. For a caller that must not give up a device (or a wait for one) for a device
    /// that won't open, when the session is not capturing and so can't switch live.
    public func probe(_ route: Route) -> DeviceError? {
        let device = makeDevice(route)
        defer { device.close() }
        do throws(DeviceError) {
            _ = try device.open(request)
            return nil
        } catch {
            return error
        }
    }
}
