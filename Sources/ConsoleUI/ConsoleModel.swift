// Everything the console shows, as one value: the render loop takes a snapshot, draws it, and
// never touches the session, the engine or a file itself. Equatable: a snapshot equal to the one
// on screen is neither laid out nor drawn.
import CaptureCore

public struct ConsoleModel: Sendable, Equatable {
    public enum RecordingState: String, Sendable { case stopped, recording, paused }

    public struct Event: Sendable, Equatable {
        public var time: String
        public var text: String
        public var severity: Severity
        public enum Severity: Sendable { case info, warning, error }
        public init(time: String, text: String, severity: Severity = .info) {
            self.time = time
            self.text = text
            self.severity = severity
        }
    }

    // Header.
    public var inputName = "default input"
    public var builtIn = false
    public var route: Route?
    public var accessLabel = ""
    public var granted: GrantedParameters?
    public var realtime = "not started"
    public var xruns = 0
    public var running = false
    public var interrupted = false
    /// Why, for the title bar.
    public var interruption = "device in use by another program"

    // Meters.
    public var levels: [ChannelLevel] = []
    /// Per channel: a clip was seen since the last reset (the light stays lit).
    public var clipLatched: [Bool] = []
    /// The loudness strip under the meters (nil: hidden; `l` shows it).
    public var loudness: LoudnessStrip?
    /// Per meter: the device channel it shows, counted from 1 (a `--select`ion's; empty: 1, 2, …),
    /// and the name the device gives it (ALSA's channel map: `FL`, `AUX3`; empty: none).
    public var channelNumbers: [Int] = []
    public var channelNames: [String] = []
    /// The meter whose numbers the compact layout shows on one line (`[` and `]`; wraps around).
    public var meterFocus = 0
    /// What the meters read (the bar, its scale and the second number follow it).
    public var ballistics = MeterBallistics.peak

    // Session rules.
    public var properties = AudioSessionProperties()
    public var effective: [AudioSessionProperties.Key: EffectiveState] = [:]
    public var notes: [String] = []
    public var appSession = AudioSessionState()
    /// Other programs' players that mix off paused now (their names); nil: not followed.
    public var otherAudioPaused: [String]?
    /// Whether mix off is interrupting other audio right now.
    public var otherAudioInterrupting = false
    /// Cards whose device reservation we hold (mix off took them from the sound server).
    public var cardsReserved: [Int] = []

    // Recording.
    public var recording: RecordingState = .stopped
    public var filePath: String?
    /// The part being recorded (shown from the second on: the take was split).
    public var filePart: Int?
    public var recordedSeconds = 0.0
    public var fileBytes: Int64 = 0
    public var freeBytes: Int64?
    public var bytesPerSecond = 0
    public var directory = ""
    /// The pre-roll (0: none) and how much of it is held now, in seconds.
    public var preRollSeconds = 0.0
    public var preRollHeldSeconds = 0.0
    /// The level trigger: off, armed, triggered, holding.
    public var trigger = "off"
    /// The recording's latest markers (at most `markersShown`), oldest first, and how many it has.
    public var markers: [Marker] = []
    public var markerCount = 0
    public static let markersShown = 8
    public struct Marker: Sendable, Equatable {
        /// Where in the file, in seconds.
        public var seconds: Double
        public var label: String
        public init(seconds: Double, label: String) {
            self.seconds = seconds
            self.label = label
        }
    }

    public var events: [Event] = []

    // Overlays and prompts.
    public var showHelp = false
    /// How far the help is scrolled (wraps round: the layout takes it modulo its positions).
    public var helpScroll = 0
    public var prompt: String?
    public var picker: Picker?
    public var unicode = true

    public struct Picker: Sendable, Equatable {
        public var title: String
        public var items: [String]
        public var selected: Int
        public init(title: String, items: [String], selected: Int = 0) {
            self.title = title
            self.items = items
            self.selected = selected
        }
    }

    public init() {}
}
