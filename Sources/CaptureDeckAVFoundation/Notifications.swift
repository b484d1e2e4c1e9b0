// The session's notifications, with Apple's names and userInfo keys, and their posting.
import CaptureDeck
import Foundation

extension NSNotification.Name {
    /// Posted when the session meets an error while running or starting; `userInfo`'s
    /// `AVCaptureSessionErrorKey` holds an `AVError`.
    public static let AVCaptureSessionRuntimeError = NSNotification.Name("AVCaptureSessionRuntimeErrorNotification")
    /// Posted when the session starts running (also after an interruption ends and capture resumes).
    public static let AVCaptureSessionDidStartRunning = NSNotification.Name("AVCaptureSessionDidStartRunningNotification")
    /// Posted when the session stops running: `stopRunning()`, or an error ended capture.
    public static let AVCaptureSessionDidStopRunning = NSNotification.Name("AVCaptureSessionDidStopRunningNotification")
    /// Posted when the session is interrupted; `userInfo`'s `AVCaptureSessionInterruptionReasonKey`
    /// holds the reason's raw value (an `Int`, also readable as `NSNumber`).
    public static let AVCaptureSessionWasInterrupted = NSNotification.Name("AVCaptureSessionWasInterruptedNotification")
    /// Posted when an interruption ends.
    public static let AVCaptureSessionInterruptionEnded = NSNotification.Name("AVCaptureSessionInterruptionEndedNotification")
}

extension AVCaptureSession {
    public static let runtimeErrorNotification = NSNotification.Name.AVCaptureSessionRuntimeError
    public static let didStartRunningNotification = NSNotification.Name.AVCaptureSessionDidStartRunning
    public static let didStopRunningNotification = NSNotification.Name.AVCaptureSessionDidStopRunning
    public static let wasInterruptedNotification = NSNotification.Name.AVCaptureSessionWasInterrupted
    public static let interruptionEndedNotification = NSNotification.Name.AVCaptureSessionInterruptionEnded
}

/// The `userInfo` key of a runtime-error notification: an `AVError`.
public let AVCaptureSessionErrorKey = "AVCaptureSessionErrorKey"
/// The `userInfo` key of a was-interrupted notification: the reason's raw value.
public let AVCaptureSessionInterruptionReasonKey = "AVCaptureSessionInterruptionReasonKey"

extension AVCaptureSession {
    /// Why a session was interrupted. Apple's cases and raw values; audio capture on Linux meets
    /// `audioDeviceInUseByAnotherClient`, and the two CaptureDeck extensions below only when
    /// `captureDeckSession.reconnectsLostDevices` is turned on (off by default, as Apple behaves).
    public enum InterruptionReason: Int, Sendable {
        case videoDeviceNotAvailableInBackground = 1
        /// Another program holds the device exclusively (ALSA hardware open elsewhere, or a
        /// PCM CaptureDeck's route lock says is taken); the session retries and resumes by itself.
        case audioDeviceInUseByAnotherClient = 2
        case videoDeviceInUseByAnotherClient = 3
        case videoDeviceNotAvailableWithMultipleForegroundApps = 4
        case videoDeviceNotAvailableDueToSystemPressure = 5
        case sensitiveContentMitigationActivated = 6
        /// CaptureDeck extension (no Apple counterpart): the device went away mid-capture; the
        /// session reopens it when it is back. Apple's sessions stop with a runtime error
        /// (`deviceWasDisconnected`) instead; CaptureDeck posts that error first, then this
        /// interruption (unless `captureDeckSession.reconnectsLostDevices` is off).
        case audioDeviceDisconnected = 1001
        /// CaptureDeck extension: the device stopped delivering audio without an error (a sound
        /// server paused or stalled); the session reopens the route as for a lost device.
        case audioDeviceStalled = 1002

        init(_ reason: CaptureDeck.InterruptionReason) {
            switch reason {
            case .audioDeviceInUseByAnotherClient: self = .audioDeviceInUseByAnotherClient
            case .audioDeviceDisconnected: self = .audioDeviceDisconnected
            case .audioDeviceStalled: self = .audioDeviceStalled
            }
        }
    }
}
