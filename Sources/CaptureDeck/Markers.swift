// Markers added now: at the frame being captured, in every recording in progress.
import CaptureCore

extension CaptureSession {
    /// Adds a marker labelled `label` to every file output's recording, at the frame being
    /// captured now: the engine's count of frames captured (device periods read so far), so it
    /// lies at most one device period (plus the capture thread's scheduling delay) before the
    /// frame the device is taking in at the call. A paused recording gets it where it paused.
    /// Returns false, adding nothing, when nothing is being captured (not running, or waiting
    /// for a device).
    @discardableResult
    public func addMarker(label: String) -> Bool {
        guard let e = engine, e.isCapturing else { return false }
        e.addMarker(atFrame: e.framesCaptured, label: label)
        return true
    }
}
