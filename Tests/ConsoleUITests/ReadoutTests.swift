// The one formatter: what the console, the event log and `record`'s lines print for each quantity.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct ReadoutTests {
    @Test func levels() {
        #expect(Readout.db(-8.3) == "  -8.3")
        #expect(Readout.db(-18.84) == " -18.8")
        #expect(Readout.db(0) == "   0.0")
        #expect(Readout.db(-0.04) == "   0.0")
        #expect(Readout.db(ChannelLevel.floorDB) == "  -inf")
        #expect(Readout.db(-100.5).count == 6)
    }

    @Test func durations() {
        #expect(Readout.duration(83.45) == "00:01:23")
        #expect(Readout.duration(83.45, tenths: true) == "00:01:23.4")
        #expect(Readout.duration(3 * 3600 + 0.96, tenths: true) == "03:00:00.9")
        #expect(Readout.ms(10) == "10.0 ms")
        #expect(Readout.hours(116 * 3600) == "116 h")
        #expect(Readout.hours(2 * 3600 + 300) == "2 h 5 min")
    }

    @Test func sizesPathsAndColumns() {
        #expect(Readout.bytes(999) == "999 B")
        #expect(Readout.bytes(480_200) == "480.2 KB")
        #expect(Readout.fitPath("/a/long/path/take.wav", width: 10) == "…/take.wav")
        #expect(Readout.fitPath("/a/long/path/take.wav", width: 10, unicode: false) == "...ake.wav")
        #expect(Readout.pad("hw:0", 6) == "hw:0  ")
        #expect(Readout.pad("dsnoop:0", 6) == "dsnoop:0 ")
    }
}
