// Channel selections (`--select`): parsing, what is refused and why, the written form, and the
// writer-side gather; one file per channel's names.
import CaptureCore
import Testing

@Suite struct ChannelSelectionTests {
    @Test func parsesInTheOrderGiven() throws {
        let s = try ChannelSelection(parsing: "64, 1,5-8")
        #expect(s.indices == [63, 0, 4, 5, 6, 7] && s.count == 6 && s.deviceChannels == 64 && s.numbers == [64, 1, 5, 6, 7, 8])
        #expect(s.description == "64,1,5-8")
        #expect(try ChannelSelection(parsing: "1,2").description == "1,2")
        #expect(try ChannelSelection(parsing: "1-64").count == 64)
    }

    @Test(arguments: [("0", "count from 1"), ("", "no channel"), ("  ", "no channel"), ("3-1", "a range goes up (1-3)"),
                      ("1,1", "channel 1 is selected twice"), ("2,1-3", "channel 2 is selected twice"), ("65", "beyond the 64"),
                      ("60-70", "beyond the 64"), ("1,,2", "empty item"), ("1,", "empty item"), ("a", "not a channel number"),
                      ("1-2-3", "not a channel number"), ("-1", "not a channel number"), ("+1", "not a channel number"),
                      ("1.5", "not a channel number"), ("9999999", "not a channel number")])
    func refusesWithAReason(text: String, says: String) {
        #expect { try ChannelSelection(parsing: text) } throws: { e in "\(e)".contains(says) }
    }

    @Test(arguments: [SampleFormat.s16LE, .s24LE, .s24_3LE, .s32LE, .floatLE])
    func gatherPicksTheChannelsInOrder(_ f: SampleFormat) throws {
        let sel = try ChannelSelection(parsing: "3,1")
        let source = StreamFormat(sampleFormat: f, sampleRate: 48_000, channels: 3)
        let b = f.bytesPerSample, frames = 5
        var input = [UInt8](repeating: 0, count: frames * 3 * b)
        for i in input.indices { input[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 1) }
        var out = [UInt8](repeating: 0xEE, count: frames * 2 * b)
        input.withUnsafeBytes { src in out.withUnsafeMutableBytes { dst in sel.gather(from: src.baseAddress!, source, to: dst.baseAddress!, frames: frames) } }
        for fr in 0..<frames {
            #expect(Array(out[(fr * 2) * b..<(fr * 2 + 1) * b]) == Array(input[(fr * 3 + 2) * b..<(fr * 3 + 3) * b]))
            #expect(Array(out[(fr * 2 + 1) * b..<(fr * 2 + 2) * b]) == Array(input[(fr * 3) * b..<(fr * 3 + 1) * b]))
        }
    }

    @Test func channelFileNamesSortInChannelOrder() {
        #expect(FileNaming.channelFile(of: "/r/take.wav", channel: 1, channels: 64) == "/r/take-ch01.wav")
        #expect(FileNaming.channelFile(of: "/r/take-002.flac", channel: 12, channels: 12) == "/r/take-002-ch12.flac")
        #expect(FileNaming.channelFile(of: "/r.d/take", channel: 3, channels: 3) == "/r.d/take-ch03")
        #expect(FileNaming.channelFile(of: "/r/.hidden", channel: 3, channels: 3) == "/r/.hidden-ch03")
        let all = FileNaming.channelFiles(of: "t.wav", channels: 64)
        #expect(all.count == 64 && all == all.sorted() && all.last == "t-ch64.wav")
    }
}
