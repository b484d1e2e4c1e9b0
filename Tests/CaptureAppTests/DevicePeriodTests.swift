// The device period and buffer each command asks for (issue 14: a headless recorder takes big
// periods, the console periods its 30 fps meters can use).
@testable import CaptureApp
import Testing

@Suite struct DevicePeriodTests {
    @Test func eachCommandHasItsDefaultAndFlagsWin() {
        var s = CaptureSettings()
        #expect(s.devicePeriod(for: .record) == (100_000, nil))
        #expect(s.devicePeriod(for: .console) == (33_333, nil))
        s.periodTime = 5_000
        #expect(s.devicePeriod(for: .record) == (5_000, nil))
        s.bufferTime = 50_000
        #expect(s.devicePeriod(for: .console) == (5_000, 50_000))
    }

    /// -B alone keeps 4 periods in the buffer: the period shrinks to a quarter of it when that is
    /// shorter than the default (so a short -B never fails the "twice the period" check).
    @Test func aBufferAloneHoldsFourPeriods() {
        var s = CaptureSettings()
        s.bufferTime = 200_000
        #expect(s.devicePeriod(for: .record) == (50_000, 200_000))
        #expect(s.devicePeriod(for: .console) == (33_333, 200_000))
        s.bufferTime = 1_000_000
        #expect(s.devicePeriod(for: .record) == (100_000, 1_000_000))
    }
}
