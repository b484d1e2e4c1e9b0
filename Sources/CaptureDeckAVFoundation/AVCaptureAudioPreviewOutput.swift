// AVCaptureAudioPreviewOutput: monitoring the session's audio on a playback device.
import CaptureDeck
import Foundation

/// Plays the session's audio on an output device as it is captured (Apple's macOS
/// `AVCaptureAudioPreviewOutput`), off the capture thread: the writer side copies into a ring and
/// a playback thread of its own writes 10 ms periods to the device (through a desktop's sound
/// server, measured at a median of 19 ms from capture to the device's queue; see Docs/benchmarks.md).
///
/// Linux: `outputDeviceUniqueID` is an ALSA playback PCM name (`default`, `pulse`, `plughw:1`, a
/// PCM of the ALSA configuration); nil plays on `default`, which on a desktop is the sound
/// server's default sink. A device that can't be opened is retried once a second, its audio
/// dropped meanwhile. A disabled connection plays silence.
public class AVCaptureAudioPreviewOutput: AVCaptureOutput, @unchecked Sendable {
    private let preview: CapturePreviewOutput
    private var _volume: Float = 1

    public init() {
        let p = CapturePreviewOutput()
        preview = p
        super.init(core: p)
    }

    /// The playback device (an ALSA PCM name; nil: `default`). Takes effect at once.
    public var outputDeviceUniqueID: String? {
        get { preview.outputDevice }
        set { preview.outputDevice = newValue }
    }

    /// The preview's gain, 0...1 (1 by default; values outside are clamped).
    public var volume: Float {
        get { lock.withLock { _volume } }
        set {
            lock.withLock { _volume = min(1, max(0, newValue.isNaN ? 1 : newValue)) }
            connectionsChanged()
        }
    }

    override func connectionsChanged() {
        let v = lock.withLock { _volume }
        preview.volume = isFed ? v : 0
    }

    /// CaptureDeck extension: the preview's latency now, in seconds (the ring's fill plus the
    /// device's delay).
    public var latency: Double { preview.latencySeconds }
}
