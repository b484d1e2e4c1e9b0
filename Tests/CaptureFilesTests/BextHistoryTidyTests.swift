// What the coding history looks like in the file between libsndfile's header write and the
// recorder's tidying of it (a crash there leaves it so), and the tidying itself.
@testable import CaptureFiles
import CaptureCore
import Glibc
import Testing

@Suite struct BextHistoryTidyTests {
    /// libsndfile gets the reserve padded with spaces (the last CaptureDeck line's trailing
    /// spaces), then adds its line: the padded form is whole lines, each CRLF-terminated. Tidying
    /// keeps the same bytes but the trailing spaces, NUL-filled to the same length; a second tidy
    /// changes nothing.
    @Test func thePaddedFormIsWholeLinesAndTidiesToNULs() {
        var info = BroadcastInfo(startedAt: timespec(tv_sec: 1_700_000_000, tv_nsec: 0), source: "toneA")
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)
        let file = FileSampleFormat(sampleFormat: .s16LE)
        let line = info.routeLine(RouteNote(route: Route(pcm: "toneB", kind: .shared), format: format), atFrame: 480, rate: 48_000)
        let added = info.addRouteLine(line, format: format, fileFormat: file)
        #expect(added)
        let ours = info.codingHistory(format: format, fileFormat: file)
        #expect(ours.utf8.count == BroadcastInfo.codingHistoryCapacity)
        let padded = Array((ours + "A=PCM,F=48000,W=16,M=stereo,T=libsndfile-1.2.0\r\n").utf8)
        let lines = String(decoding: padded, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.count == 4 && lines[0].hasSuffix("; toneA") && lines[1].hasPrefix(line) && lines[1].dropFirst(line.count).allSatisfy { $0 == " " })
        let tidy = BextHistory.tidy(padded)
        let text = Array((info.firstLine(format: format, fileFormat: file) + "\r\n" + line + "\r\nA=PCM,F=48000,W=16,M=stereo,T=libsndfile-1.2.0\r\n").utf8)
        #expect(tidy.count == padded.count)
        #expect(Array(tidy.prefix(text.count)) == text && tidy.dropFirst(text.count).allSatisfy { $0 == 0 })
        #expect(BextHistory.tidy(tidy) == tidy)
    }

    /// The edges, each spelled out: a line of spaces only goes, a lone CR stays inside its line,
    /// an unterminated end keeps its spaces, text after a NUL is dropped, and the length stays.
    @Test func edgesOfTheTidying() {
        func tidy(_ s: String, padTo n: Int) -> String {
            let out = BextHistory.tidy(Array(s.utf8) + [UInt8](repeating: 0, count: n - s.utf8.count))
            #expect(out.count == n)
            let text = out.prefix { $0 != 0 }
            #expect(out.dropFirst(text.count).allSatisfy { $0 == 0 }, "NUL-filled after the text")
            return String(decoding: text, as: UTF8.self)
        }
        #expect(tidy("a  \r\n   \r\nb\r\n", padTo: 32) == "a\r\nb\r\n")
        #expect(tidy("a\rb \r\n", padTo: 16) == "a\rb\r\n")
        #expect(tidy("x\r\ntail  ", padTo: 16) == "x\r\ntail  ")
        #expect(tidy("x \r\n\0y \r\n", padTo: 16) == "x\r\n")
        #expect(tidy("\r\n\r\n", padTo: 8) == "")
        #expect(tidy("ends with CR\r", padTo: 16) == "ends with CR\r")
        #expect(tidy("", padTo: 4) == "")
    }
}
