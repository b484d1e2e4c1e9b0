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
        // A length of whole tenths reads as itself: 115200 frames at 48 kHz are 2.4 s, which in
        // binary is a hair under, and the tenth was cut to 2.3 ("saved x.wav: 115200 frames (00:00:02.3)").
        for (frames, shown) in [(115_200, "00:00:02.4"), (230_400, "00:00:04.8"), (57_600, "00:00:01.2"), (460_800, "00:00:09.6"),
                                (144_000, "00:00:03.0"), (47_999, "00:00:00.9")] {
            #expect(Readout.duration(Double(frames) / 48_000, tenths: true) == shown, "\(frames) frames")
        }
        #expect(Readout.duration(Double(2_879_999) / 48_000) == "00:00:59")
        #expect(Readout.duration(Double(2_880_000) / 48_000) == "00:01:00")
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
