// Route resolution: which PCM to open, and what the app audio session becomes, from the four
// AVCaptureSession audio-session properties. A pure function; see Docs/audio-session.md.
//
// Rule tags: "Apple" rules restate Apple's documentation (shared/docs/audio-session-semantics.md,
// §1); "CaptureDeck" rules are our own decisions where Apple is silent or has no Linux meaning.

/// The four AVCaptureSession audio-session properties, with Apple's defaults.
public struct AudioSessionProperties: Equatable, Sendable, Hashable {
    /// Apple: default true; the master switch.
    public var usesApplicationAudioSession = true
    /// Apple: default true.
    public var automaticallyConfiguresApplicationAudioSession = true
    /// Apple (iOS 18): default false.
    public var configuresApplicationAudioSessionToMixWithOthers = false
    /// Apple (iOS 26): opt-in, so false.
    public var configuresApplicationAudioSessionForBluetoothHighQualityRecording = false

    public init(uses: Bool = true, autoConfigures: Bool = true, mix: Bool = false, bluetoothHQ: Bool = false) {
        usesApplicationAudioSession = uses
        automaticallyConfiguresApplicationAudioSession = autoConfigures
        configuresApplicationAudioSessionToMixWithOthers = mix
        configuresApplicationAudioSessionForBluetoothHighQualityRecording = bluetoothHQ
    }

    /// Property names as the console and the control input spell them.
    public enum Key: String, CaseIterable, Sendable {
        case usesAppSession = "uses-app-session"
        case autoConfigure = "auto-configure"
        case mixWithOthers = "mix"
        case bluetoothHQ = "bluetooth-hq"

        public var appleName: String {
            switch self {
            case .usesAppSession: "usesApplicationAudioSession"
            case .autoConfigure: "automaticallyConfiguresApplicationAudioSession"
            case .mixWithOthers: "configuresApplicationAudioSessionToMixWithOthers"
            case .bluetoothHQ: "configuresApplicationAudioSessionForBluetoothHighQualityRecording"
            }
        }

        public var appleDefault: Bool { self == .usesAppSession || self == .autoConfigure }

        public init?(name: String) {
            switch name.lowercased() {
            case "uses-app-session", "uses", "usesapplicationaudiosession": self = .usesAppSession
            case "auto-configure", "auto", "automaticallyconfiguresapplicationaudiosession": self = .autoConfigure
            case "mix", "mix-with-others", "configuresapplicationaudiosessiontomixwithothers": self = .mixWithOthers
            case "bluetooth-hq", "bt-hq", "configuresapplicationaudiosessionforbluetoothhighqualityrecording": self = .bluetoothHQ
            default: return nil
            }
        }
    }

    public subscript(key: Key) -> Bool {
        get {
            switch key {
            case .usesAppSession: usesApplicationAudioSession
            case .autoConfigure: automaticallyConfiguresApplicationAudioSession
            case .mixWithOthers: configuresApplicationAudioSessionToMixWithOthers
            case .bluetoothHQ: configuresApplicationAudioSessionForBluetoothHighQualityRecording
            }
        }
        set {
            switch key {
            case .usesAppSession: usesApplicationAudioSession = newValue
            case .autoConfigure: automaticallyConfiguresApplicationAudioSession = newValue
            case .mixWithOthers: configuresApplicationAudioSessionToMixWithOthers = newValue
            case .bluetoothHQ: configuresApplicationAudioSessionForBluetoothHighQualityRecording = newValue
            }
        }
    }
}

/// The PCMs one input can be opened through, by access kind (from the device catalog, the
/// config file or flags). nil: not available.
public struct InputRoutes: Equatable, Sendable, Hashable {
    public var exclusive: String?
    public var shared: String?
    public var bluetoothHQ: String?
    public var bluetoothHFP: String?

    public init(exclusive: String? = nil, shared: String? = nil, bluetoothHQ: String? = nil, bluetoothHFP: String? = nil) {
        self.exclusive = exclusive
        self.shared = shared
        self.bluetoothHQ = bluetoothHQ
        self.bluetoothHFP = bluetoothHFP
    }
}

/// Which kind of route was chosen.
public enum RouteKind: String, Sendable, Codable, CaseIterable {
    case exclusive, shared
    case bluetoothHQ = "bluetooth-hq"
    case bluetoothHFP = "bluetooth-hfp"
}

/// What the engine opens.
public struct Route: Equatable, Sendable, Hashable, CustomStringConvertible {
    public var pcm: String
    public var kind: RouteKind
    public init(pcm: String, kind: RouteKind) {
        self.pcm = pcm
        self.kind = kind
    }
    public var description: String { "\(pcm) (\(kind.rawValue))" }

    /// Whether two PCMs are views of the same ALSA hardware device (`hw:1,0`, `plughw:1,0` and
    /// `dsnoop:1,0` are; anything we can't tell is assumed not to be). Opening one while holding
    /// the other may fail with EBUSY because of our own hold.
    public func sharesHardware(with other: Route) -> Bool {
        func split(_ pcm: String) -> (String, String)? {
            let parts = pcm.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["hw", "plughw", "dsnoop", "dsnooper"].contains(parts[0].lowercased()) else { return nil }
            return (parts[0].lowercased(), parts[1].replacingSpaces())
        }
        guard let a = split(pcm), let b = split(other.pcm) else { return false }
        return a.1 == b.1 && a.0 != b.0
    }
}

extension String {
    fileprivate func replacingSpaces() -> String { String(filter { $0 != " " }) }
}

/// How a property acts under the current combination, for display.
public enum EffectiveState: Equatable, Sendable, CustomStringConvertible {
    /// The property applies with this value.
    case applies(Bool)
    /// The property has no effect, and why.
    case noEffect(reason: String)
    /// The app session's own setting decides (automatic configuration is off); its value.
    case appSessionDecides(Bool)

    public var isInEffect: Bool { if case .noEffect = self { false } else { true } }

    public var description: String {
        switch self {
        case .applies(let v): v ? "on" : "off"
        case .noEffect(let r): "no effect: \(r)"
        case .appSessionDecides(let v): "app session decides (\(v ? "on" : "off"))"
        }
    }
}

/// Why capture can't start under the current combination.
public enum ResolutionFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// Apple: with automatic configuration off, "recording may fail" when the category can't record.
    case categoryCannotRecord(AudioSessionCategory)
    /// No PCM is configured for this input at all.
    case noRoute

    public var description: String {
        switch self {
        case .categoryCannotRecord(let c):
            "the app audio session's category '\(c.rawValue)' does not permit recording (automatic configuration is off; set the category to record or playAndRecord)"
        case .noRoute: "no capture device is configured for this input"
        }
    }
}

/// The outcome of resolving a combination.
public struct RouteResolution: Equatable, Sendable {
    /// The route to open, or the failure.
    public var route: Result<Route, ResolutionFailure>
    /// The app audio session after resolution (changed only by automatic configuration).
    public var appSession: AudioSessionState
    /// Whether this resolution wrote into the app session.
    public var configuredAppSession: Bool
    /// Whether capture uses a private session of its own (usesApplicationAudioSession off).
    public var privateSession: Bool
    /// Effective mix and Bluetooth HQ after every rule.
    public var effectiveMix: Bool
    public var effectiveBluetoothHQ: Bool
    /// Per property, how it acts now.
    public var effective: [AudioSessionProperties.Key: EffectiveState]
    /// Notes for the user, e.g. "no Bluetooth input: using the ordinary route".
    public var notes: [String]
}

public enum RouteResolver {
    /// Resolves `properties` against the app session and the input's available routes.
    /// Pure: the caller applies `appSession` if `configuredAppSession`.
    public static func resolve(_ properties: AudioSessionProperties, appSession: AudioSessionState,
                               routes: InputRoutes) -> RouteResolution {
        var session = appSession
        var configured = false
        var notes: [String] = []
        var effective: [AudioSessionProperties.Key: EffectiveState] = [:]
        let mix: Bool
        let btHQ: Bool

        if !properties.usesApplicationAudioSession {
            // Apple: false → capture uses a private session; the other three have no effect.
            // CaptureDeck: that private session is record-only, not mixable, no Bluetooth HQ,
            // and the app session is left untouched.
            let reason = "uses app session is off"
            effective[.usesAppSession] = .applies(false)
            effective[.autoConfigure] = .noEffect(reason: reason)
            effective[.mixWithOthers] = .noEffect(reason: reason)
            effective[.bluetoothHQ] = .noEffect(reason: reason)
            mix = false
            btHQ = false
        } else if properties.automaticallyConfiguresApplicationAudioSession {
            // Apple: on start the capture session reconfigures the app session for recording;
            // nothing is restored afterwards.
            effective[.usesAppSession] = .applies(true)
            effective[.autoConfigure] = .applies(true)
            mix = properties.configuresApplicationAudioSessionToMixWithOthers
            btHQ = properties.configuresApplicationAudioSessionForBluetoothHighQualityRecording
            effective[.mixWithOthers] = .applies(mix)
            effective[.bluetoothHQ] = .applies(btHQ)
            // CaptureDeck: playAndRecord unless the category already permits recording.
            if !session.category.permitsRecording { session.category = .playAndRecord }
            if mix { session.options.insert(.mixWithOthers) } else { session.options.remove(.mixWithOthers) }
            if btHQ {
                session.options.insert(.bluetoothHighQualityRecording)
                // Apple: HQ falls back to HFP, so HFP is allowed as the fallback.
                session.options.insert(.allowBluetoothHFP)
            } else {
                session.options.remove(.bluetoothHighQualityRecording)
            }
            configured = session != appSession
        } else {
            // Apple: the app is responsible; capture uses the app session as it is.
            // CaptureDeck: its own options then decide mix and Bluetooth HQ.
            effective[.usesAppSession] = .applies(true)
            effective[.autoConfigure] = .applies(false)
            mix = session.options.contains(.mixWithOthers)
            btHQ = session.options.contains(.bluetoothHighQualityRecording)
            effective[.mixWithOthers] = .appSessionDecides(mix)
            effective[.bluetoothHQ] = .appSessionDecides(btHQ)
            if !session.category.permitsRecording {
                // Apple: "recording may fail"; CaptureDeck: it does, with an error naming the category.
                return RouteResolution(route: .failure(.categoryCannotRecord(session.category)), appSession: session,
                                       configuredAppSession: false, privateSession: false, effectiveMix: mix,
                                       effectiveBluetoothHQ: btHQ, effective: effective, notes: notes)
            }
        }

        // Route choice.
        var route: Route?
        if btHQ {
            // Apple: prefer high quality, fall back to HFP. CaptureDeck: then the ordinary route.
            if let hq = routes.bluetoothHQ {
                route = Route(pcm: hq, kind: .bluetoothHQ)
            } else if let hfp = routes.bluetoothHFP {
                route = Route(pcm: hfp, kind: .bluetoothHFP)
                notes.append("Bluetooth input can't record in high quality: using its hands-free (HFP) profile")
            } else {
                notes.append("no Bluetooth input: Bluetooth high-quality recording has no effect on this route")
            }
        }
        if route == nil {
            // CaptureDeck: effective mix off → exclusive hardware access; on → a shared device.
            // If only the other kind exists, use it and say so.
            let preferred: (String?, RouteKind) = mix ? (routes.shared, .shared) : (routes.exclusive, .exclusive)
            let other: (String?, RouteKind) = mix ? (routes.exclusive, .exclusive) : (routes.shared, .shared)
            if let pcm = preferred.0 {
                route = Route(pcm: pcm, kind: preferred.1)
            } else if let pcm = other.0 {
                route = Route(pcm: pcm, kind: other.1)
                notes.append(mix ? "no shared device for this input: capturing exclusively, other programs can't record it"
                                 : "no exclusive device for this input: capturing through the shared device")
            }
        }
        return RouteResolution(route: route.map { .success($0) } ?? .failure(.noRoute), appSession: session,
                               configuredAppSession: configured, privateSession: !properties.usesApplicationAudioSession,
                               effectiveMix: mix, effectiveBluetoothHQ: btHQ, effective: effective, notes: notes)
    }
}
