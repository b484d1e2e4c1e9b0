// How CaptureDeck's capture streams introduce themselves to the sound server, so its policy
// modules treat them as a recorder and `pactl list source-outputs` names them. The ALSA pulse
// plugin creates the stream with libpulse's client properties, which libpulse takes from
// PULSE_PROP (defaults) and PULSE_PROP_OVERRIDE (wins over what the plugin sets, such as its own
// "ALSA plug-in [capdeck]" application name).
import Glibc

public enum SoundServerIdentity {
    /// Sets the process's libpulse client properties: application name, `media.role=production`
    /// (a recording, for role-based policy), an icon. Call once at start, before any libpulse or
    /// ALSA pulse-plugin use (libpulse reads them at each connection); properties the user already
    /// set in PULSE_PROP / PULSE_PROP_OVERRIDE are kept.
    public static func announce(applicationName: String = "CaptureDeck",
                                iconName: String = "audio-input-microphone") {
        merge("PULSE_PROP_OVERRIDE", ["application.name": applicationName, "application.icon_name": iconName])
        merge("PULSE_PROP", ["media.role": "production", "application.id": "org.capturedeck.capdeck"])
    }

    private static func merge(_ variable: String, _ ours: [String: String]) {
        let existing = getenv(variable).map { String(cString: $0) } ?? ""
        var text = existing
        for key in ours.keys.sorted() where !existing.contains(key + "=") {
            // libpulse's proplist syntax: key='value' pairs separated by spaces.
            let value = ours[key]!.replacingQuote()
            text += (text.isEmpty ? "" : " ") + "\(key)='\(value)'"
        }
        setenv(variable, text, 1)
    }
}

extension String {
    fileprivate func replacingQuote() -> String { String(filter { $0 != "'" }) }
}
