// Which PCMs stand for an input's exclusive and shared routes, from its name and the catalog.
import CaptureALSA
import CaptureCore

extension InputRoutes {
    /// Routes for a PCM the user named (`-D`), before any overrides:
    /// - `hw:`/`plughw:` → that PCM is the exclusive route; `dsnoop:` on the same card/device is shared.
    /// - `dsnoop:` → shared; `plughw:` on the same card/device is exclusive.
    /// - sound servers (`default`, `pulse`, `pipewire`, `jack`) → shared only.
    /// - anything else (a user-defined or test PCM, `builtin…`) → both routes are that PCM, so the
    ///   mix setting never moves you off the device you named.
    public static func forNamedPCM(_ name: String) -> InputRoutes {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        let kind = parts.first?.lowercased() ?? ""
        let rest = parts.count > 1 ? parts[1] : nil
        switch kind {
        case "hw", "plughw":
            return InputRoutes(exclusive: name, shared: rest.map { "dsnoop:" + $0 })
        case "dsnoop":
            return InputRoutes(exclusive: rest.map { "plughw:" + $0 }, shared: name)
        case "default", "pulse", "pipewire", "jack", "sysdefault":
            return InputRoutes(shared: name)
        default:
            return InputRoutes(exclusive: name, shared: name)
        }
    }

    /// Routes for the system's default input: the first card with a capture device
    /// (`plughw:`, exclusive; `dsnoop:`, shared) and ALSA's `default` as the shared route when
    /// there is no card. The built-in source is not included: callers fall back to it.
    public static func systemDefault() -> InputRoutes {
        if let card = DeviceCatalog.cards().first(where: { !$0.captureDevices.isEmpty }),
           let dev = card.captureDevices.first?.device {
            let spec = "CARD=\(card.id),DEV=\(dev)"
            return InputRoutes(exclusive: "plughw:" + spec, shared: "dsnoop:" + spec)
        }
        return InputRoutes(shared: "default")
    }
}
