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

    /// Routes for the system's default input: the sound server's default source while a server
    /// answers (`pulse`, shared), else the first card with a capture device (`plughw:`,
    /// exclusive; `dsnoop:`, shared), else ALSA's `default`. The built-in source is never
    /// included: where there is nothing, the caller says so.
    public static func systemDefault() -> InputRoutes {
        InputCatalog.defaultInput().routes ?? InputRoutes(shared: "default")
    }
}
