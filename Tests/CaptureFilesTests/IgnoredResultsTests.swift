// Results that used to be ignored: flock on a filesystem without locks, and cue points that
// don't fit (past 2^32 frames, or a RIFF that would pass 4 GiB).
import CaptureCore
@testable import CaptureFiles
import Foundation
import Glibc
import Testing

@Suite struct IgnoredResultsTests {
    /// Item 16: where flock fails with anything but EWOULDBLOCK (a filesystem without locks:
    /// ENOLCK, or EINVAL/ENOTSUP), `recover` can't tell whether a recording holds the file, so it
    /// refuses with a message saying so, and changes nothing. EWOULDBLOCK stays "in use".
    @Test(arguments: [ENOLCK, EINVAL, EWOULDBLOCK])
    func recoverRefusesWhenItCannotLock(error: Int32) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let (path, _) = try RecoveryTests.crashed(dir, format, .wav)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let outcome = Recovery.recover(path: path, lock: { _, _ in errno = error; return -1 })
        guard case .untouched(let reason) = outcome else { Issue.record("\(outcome)"); return }
        if error == EWOULDBLOCK {
            #expect(reason.contains("in use by a running recording"), "\(reason)")
        } else {
            #expect(reason.contains("can't lock it") && reason.contains(String(cString: strerror(error)))
                    && reason.contains("locks"), "\(reason)")
            #expect(!reason.contains("\n"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "untouched")
        #expect(!Recovery.needsRepair(path: path, lock: { _, _ in errno = error; return -1 }))
    }

    /// Item 16: a cue point past 2^32 frames (over 24.8 h at 48 kHz) can't be held by a cue chunk
    /// (32-bit positions, in RF64 too): it is dropped and reported, never wrapped or clamped.
    @Test func cuePastTwoToThe32FramesIsDroppedNotWrapped() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let path = dir.file("long.wav")
        let far = RecordingMarker(frame: (1 << 32) + 100, label: "day two")
        let (rec, _) = try recordPattern(path, format, .wav, frames: 480,
                                         markers: [RecordingMarker(frame: 100, label: "near"), far])
        #expect(rec.droppedMarkers == [far])
        let cue = try #require(riffChunks(path).chunks.first { $0.id == "cue " })
        let b = [UInt8](FileManager.default.contents(atPath: path)!)
        #expect(le(b, cue.offset + 8, 4) == 1, "one cue point")
        #expect(le(b, cue.offset + 12 + 4, 4) == 100 && le(b, cue.offset + 12 + 20, 4) == 100)
        #expect(Recovery.recover(path: path) == .alreadyComplete(container: "WAV", frames: 480))
    }

    /// Item 16: cue chunks appended to a RIFF just under 4 GiB would wrap its 32-bit size: the
    /// append is refused (the markers reported as dropped) and the file is left as it was.
    @Test func cuesThatWouldWrapARIFFAreNotAppended() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let path = dir.file("big.wav")
        try recordPattern(path, format, .wav, frames: 480)
        // A consistent WAV 20 bytes short of 4 GiB: extended sparsely, then recovered.
        let target = Int(UInt32.max) + 8 - 20
        let dataOffset = riffChunks(path).chunks.first { $0.id == "data" }!.offset + 8
        try #require(truncate(path, off_t(dataOffset + (target - dataOffset) / 4 * 4)) == 0)
        guard case .repaired = Recovery.recover(path: path) else { Issue.record("setup"); return }
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let sizeBefore = st.st_size
        let result = CueWriter.append([RecordingMarker(frame: 10, label: "x")], toWAV: fd)
        #expect(result == .noRoom, "\(result)")
        fstat(fd, &st)
        #expect(st.st_size == sizeBefore)
        var head = [UInt8](repeating: 0, count: 8)
        pread(fd, &head, 8, 0)
        #expect(le(head, 4, 4) == UInt64(sizeBefore - 8), "RIFF size unchanged, not wrapped")
    }
}
