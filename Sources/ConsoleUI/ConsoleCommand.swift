// What a key means in the console's vocabulary: the same words as `capdeck record`'s control input.
import CaptureCore

public enum ConsoleCommand: Hashable, Sendable {
    case toggle(AudioSessionProperties.Key)
    case recordStartStop
    case pauseResume
    case armTrigger
    case split
    case mark
    case chooseDevice
    case cycleCategory
    case resetMeters
    /// The loudness strip: hidden, EBU +9, EBU +18.
    case cycleLoudness
    /// Start the loudness integration afresh (I, LRA, the maxima).
    case resetLoudness
    case cycleBallistics
    case redraw
    /// The meter whose numbers the compact layout shows: the one before, the one after.
    case previousChannel, nextChannel
    case help
    case quit
    // Inside a picker or prompt.
    case up, down, accept, cancel, yes, no
}
