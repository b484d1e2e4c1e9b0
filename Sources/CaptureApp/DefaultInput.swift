// What "no -D" means and why it can't be had: the checks `record` and the console make before
// (and after) opening the system's default input, so neither ever records something else.
import CaptureALSA
import CaptureCore
import CaptureDeck

public enum DefaultInput {
    /// Why the default input can't be used, in one line, or nil when it may be tried: a sound
    /// server that is configured but doesn't answer, or a machine with no capture device at all.
    public static func problem() -> String? {
        if let server = SoundServerProbe.diagnosis() { return server }
        if !hasAnyCaptureDevice() {
            return "no capture device here: no sound card and no sound server; name a PCM with -D (see 'capdeck devices'), or -D builtin for the built-in test signal"
        }
        return nil
    }

    /// A sound card with a capture device, or a configured sound server.
    public static func hasAnyCaptureDevice() -> Bool {
        SoundServerProbe.expected() != nil || DeviceCatalog.cards().contains { !$0.captureDevices.isEmpty }
    }

    /// The start error, with the server's diagnosis when the failed route goes to a sound server
    /// (the pulse plugin only says "Connection refused").
    public static func explain(_ error: CaptureSessionError, routes: InputRoutes?) -> String {
        let pcms = [routes?.shared, routes?.exclusive].compactMap { $0 }
        if pcms.contains(where: { DeviceCatalog.accessKind(forPCM: $0) == .soundServer }), let server = SoundServerProbe.diagnosis() {
            return server
        }
        // A PCM that isn't there or won't open (a card number or a name mistyped): where to find
        // what is.
        switch error {
        case .device(.notFound), .device(.unavailable):
            return error.description + " ('capdeck devices' lists what can be captured from)"
        default: break
        }
        return error.description
    }
}
