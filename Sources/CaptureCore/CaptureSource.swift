// The narrow interface every capture source implements: ALSA PCMs and the built-in signal source.

/// What kind of access a route gives, as shown to the user.
public enum AccessKind: String, Sendable, Codable {
    case exclusive, shared, soundServer = "sound-server", bluetooth, builtIn = "built-in", unknown
}

/// What the engine asks a device for.
public struct CaptureRequest: Sendable, Equatable {
    public var format: StreamFormat
    /// Period (the device's wake-up granularity) in microseconds; nil lets the device choose.
    public var periodMicros: Int?
    /// Device buffer in microseconds; nil lets the device choose (we ask for ~4 periods).
    public var bufferMicros: Int?

    public init(format: StreamFormat, periodMicros: Int? = nil, bufferMicros: Int? = nil) {
        self.format = format
        self.periodMicros = periodMicros
        self.bufferMicros = bufferMicros
    }
}

/// Exactly what a device granted after negotiation.
public struct GrantedParameters: Sendable, Equatable {
    public var format: StreamFormat
    public var periodFrames: Int
    public var bufferFrames: Int
    /// Access mode and other details worth showing ("RW_INTERLEAVED").
    public var access: String
    /// The device's names for its channels, in order, where it names them (ALSA's channel map:
    /// `FL`, `FR`, `AUX3`…; "" for a channel it leaves unnamed); nil: no names.
    public var channelNames: [String]? = nil

    public init(format: StreamFormat, periodFrames: Int, bufferFrames: Int, access: String) {
        self.format = format
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
        self.access = access
    }

    public var periodMs: Double { Double(periodFrames) * 1000 / Double(format.sampleRate) }
    public var bufferMs: Double { Double(bufferFrames) * 1000 / Double(format.sampleRate) }
}

/// Why a device could not be used. Carries the device name and the system's own words.
public enum DeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another program holds the device (EBUSY on an exclusive open).
    case busy(device: String)
    /// No such PCM or sound card (ENOENT, ENODEV, ENXIO at open).
    case notFound(device: String, reason: String)
    /// The PCM exists but can't be opened for capture.
    case unavailable(device: String, reason: String)
    /// The device can't give what was asked.
    case unsupported(device: String, parameter: String, reason: String)
    /// The device went away or broke while capturing (ENODEV, EBADFD, EIO…).
    case lost(device: String, reason: String)
    /// The process or the system is out of a resource (file descriptors): no fault of the device.
    case systemLimit(device: String, reason: String)
    /// A running device delivered nothing for `seconds` without reporting an error (a sound
    /// server paused or stopped, a stream unlinked, a node suspended).
    case stalled(device: String, seconds: Double)

    public var description: String {
        switch self {
        case .busy(let d): "\(d): device is busy (in use by another program)"
        case .notFound(let d, let r): "\(d): cannot open for capture: \(r)"
        case .unavailable(let d, let r): "\(d): cannot open for capture: \(r)"
        case .unsupported(let d, let p, let r): "\(d): \(p): \(r)"
        case .lost(let d, let r): "\(d): device lost: \(r)"
        case .systemLimit(let d, let r): "\(d): cannot open for capture: \(r)"
        case .stalled(let d, let s): "\(d): delivered no audio for \(String(format1: s)) s without an error (stalled)"
        }
    }
}

/// The result of one non-blocking read on the real-time path.
public enum DeviceRead: Sendable, Equatable {
    /// `n` frames were read (0: nothing available yet).
    case frames(Int)
    /// The device overran (frames were lost before we read them); it has been recovered.
    case overrun
    /// The device was suspended (power management) and has been resumed or restarted.
    case suspended
    /// The device failed for good; capture must end.
    case failed(DeviceError)
}

/// The result of waiting for data on the real-time path.
public enum DeviceWait: Sendable, Equatable {
    case ready
    /// The wake-up descriptor fired (stop or reconfigure requested).
    case woken
    case timedOut
    case failed(DeviceError)
}

/// A stream of captured audio frames: one open of a PCM (or the built-in signal), negotiated,
/// started, read, closed. (Not a physical device: that is what Apple's `AVCaptureDevice` names,
/// and what CaptureDeck's Apple-shaped layer will too; one device can be opened through several
/// sources, e.g. a card's `hw:` and `dsnoop:` views.)
///
/// Threading: `open`, `start` and `close` are called from the engine's control side before and
/// after capture; `read`, `waitForData` run on the capture queue only and must not allocate,
/// lock, log or do file I/O.
public protocol CaptureSource: AnyObject, Sendable {
    /// The name the user gave or sees (ALSA PCM name, or `builtin:sine`).
    var name: String { get }
    /// What kind of access this device gives.
    var accessKind: AccessKind { get }
    /// A one-line human description ("ALSA PCM hw:0,0", "BUILT-IN TEST SIGNAL: sine 440 Hz").
    var displayName: String { get }

    /// Opens the device and negotiates parameters as close to `request` as it can.
    func open(_ request: CaptureRequest) throws(DeviceError) -> GrantedParameters
    /// Starts the stream. After this, frames arrive at the device's pace.
    func start() throws(DeviceError)
    /// Reads up to `frames` frames into `buffer` without blocking. Capture queue only.
    func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead
    /// Sleeps until a period is ready, `wakeFD` becomes readable, or `timeoutMs`. Capture queue only.
    func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait
    /// Stops and closes the device. Safe to call more than once.
    func close()
}

extension String {
    /// One decimal, without Foundation.
    init(format1 v: Double) {
        let tenths = Int((v * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
