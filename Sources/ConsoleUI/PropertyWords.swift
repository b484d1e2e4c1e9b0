// The four session properties in the words of a Linux user first (which device, who else can
// record, what happens to other audio), Apple's names second (the help overlay, the docs).
import CaptureCore

public enum PropertyWords {
    /// The session panel's name for a property (at most 15 columns).
    public static func name(_ key: AudioSessionProperties.Key) -> String {
        switch key {
        case .usesAppSession: "use app session"
        case .autoConfigure: "auto-configure"
        case .mixWithOthers: "mix with others"
        case .bluetoothHQ: "Bluetooth HQ"
        }
    }

    /// What the property being on or off does, longest wording first: "shared device, other
    /// programs record too", "shared device".
    public static func meaning(_ key: AudioSessionProperties.Key, _ on: Bool) -> [String] {
        switch (key, on) {
        case (.usesAppSession, true): ["2-4 set up the app session", "2-4 apply"]
        case (.usesAppSession, false): ["private session: record-only, exclusive device", "private, exclusive"]
        case (.autoConfigure, true): ["capdeck sets the app session up for recording", "capdeck sets it up"]
        case (.autoConfigure, false): ["you set the app session (c: category)", "yours (c: category)"]
        case (.mixWithOthers, true): ["shared device, other programs record too", "shared device"]
        case (.mixWithOthers, false): ["exclusive device, other audio paused", "exclusive, others paused", "exclusive"]
        case (.bluetoothHQ, true): ["Bluetooth high quality, else hands-free (HFP)", "Bluetooth HQ, else HFP"]
        case (.bluetoothHQ, false): ["ordinary route, no Bluetooth HQ", "ordinary route"]
        }
    }

    /// The effect column: what the property does now, longest wording first (the last is at most
    /// 33 columns: it fits the narrowest console).
    public static func effect(_ key: AudioSessionProperties.Key, _ e: EffectiveState) -> [String] {
        switch e {
        case .applies(let v): meaning(key, v)
        case .noEffect(let reason):
            reason == "uses app session is off" ? ["no effect: 1 is off (private session)", "no effect: 1 is off", "no effect"]
                                                : ["no effect: \(reason)", "no effect"]
        case .appSessionDecides(let v):
            meaning(key, v).map { "app session decides: \($0)" } + ["app session: \(meaning(key, v).last ?? "")", "app session decides (\(v ? "on" : "off"))"]
        }
    }

    /// The help overlay's line for a property's key: "mix with others: shared device / exclusive
    /// device, other audio paused".
    public static func help(_ key: AudioSessionProperties.Key) -> String {
        "\(name(key)): \(meaning(key, true)[0]) / \(meaning(key, false)[0])"
    }

    /// The event line when a key toggles it: "mix with others on: shared device
    /// (configuresApplicationAudioSessionToMixWithOthers)"; Apple's name last, where the screen
    /// edge cuts first.
    public static func toggled(_ key: AudioSessionProperties.Key, _ on: Bool) -> String {
        "\(name(key)) \(on ? "on" : "off"): \(meaning(key, on)[min(1, meaning(key, on).count - 1)]) (\(key.appleName))"
    }
}
