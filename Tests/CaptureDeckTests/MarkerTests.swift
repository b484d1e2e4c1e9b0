// Markers in every file type, at their exact frames, read back by an independent reader
// (Tests/Support/read-markers.py: the WAV cue/labl chunks, the AIFF MARK chunk, the sidecar).
@testable import CaptureDeck
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Foundation
import Glibc
import Testing

@Suite struct MarkerTests {
    static let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)

    func write(_ out: CaptureAudioFileOutput, _ frames: Int) throws {
        let bytes = [UInt8](repeating: 0x11, count: frames * Self.format.bytesPerFrame)
        try bytes.withUnsafeBytes { try out.write($0.baseAddress!, count: frames) }
    }

    /// A new user's trial: with a source that delivers in bursts, `pause` then `resume` with no
    /// audio between them left no marker at all (the writer saw neither); the presses are kept.
    @Test func aPauseAndResumeBetweenTwoBatchesAreBothMarked() async throws {
        let dir = try TempDir("capdeck-markers")
        defer { dir.remove() }
        let path = dir.path("take.wav")
        let out = CaptureAudioFileOutput(format: Self.format)
        try out.startRecording(to: path, fileType: .wav)
        try write(out, 4800)
        #expect(out.pause() && out.resume())
        try write(out, 4800)
        #expect(out.pause() && out.resume() && out.pause())
        try write(out, 2400)  // skipped
        #expect(out.resume())
        try write(out, 1200)
        try out.stopRecording()
        let marks = try await readMarkers(path, scratch: dir)
        #expect(marks == [ReadMarker(frame: 4800, label: "pause"), ReadMarker(frame: 4800, label: "resume"),
                          ReadMarker(frame: 9600, label: "pause"), ReadMarker(frame: 9600, label: "resume"), ReadMarker(frame: 9600, label: "pause"),
                          ReadMarker(frame: 9600, label: "resume")], "\(marks)")
        #expect(ReadBack.read(path)?.frames == 10_800)
    }

    /// An added marker, one inside a pause (where the pause began), pause and resume themselves
    /// (at the frame the file pauses), one after the pause (less the paused frames), a label with
    /// a tab and a newline; one checkpoint between them, so part reaches the sidecar before the
    /// finish and part at it.
    @Test(arguments: [FileType.wav, .aiff, .w64, .caf, .flac])
    func markersLandOnTheirExactFramesInEveryType(_ type: FileType) async throws {
        let dir = try TempDir("capdeck-markers")
        defer { dir.remove() }
        let path = dir.path("take.\(type.fileExtension)")
        let out = CaptureAudioFileOutput(format: Self.format)
        try write(out, 480)  // before the recording: output frames 0..<480 belong to no file
        try out.startRecording(to: path, fileType: type)
        try write(out, 4800)
        out.addMarker(RecordingMarker(frame: 480 + 1000, label: "one"))
        try out.checkpoint()
        try write(out, 4800)
        #expect(out.pause())
        try write(out, 2400)  // skipped: file frames stay at 9600
        out.addMarker(RecordingMarker(frame: 480 + 10_000, label: "inside the pause"))
        #expect(out.resume())
        try write(out, 1200)
        out.addMarker(RecordingMarker(frame: 480 + 12_500, label: "tab\there, new\nline"))
        try write(out, 1200)
        let expected = [ReadMarker(frame: 1000, label: "one"), ReadMarker(frame: 9600, label: "pause"),
                        ReadMarker(frame: 9600, label: "inside the pause"), ReadMarker(frame: 9600, label: "resume"),
                        ReadMarker(frame: 10_100, label: "tab\there, new\nline")]
        #expect(out.recentMarkers.map { ReadMarker(frame: $0.frame, label: $0.label) } == expected)
        #expect(out.markerCount == 5)
        let done = try #require(try out.stopRecording())
        #expect(done.frames == 12_000)
        // AIFF's MARK chunk has no room for a newline-free guarantee: its name is the label's bytes.
        #expect(try await readMarkers(path, scratch: dir) == expected)
        var st = stat()
        if type == .wav || type == .aiff {
            #expect(lstat(path + ".markers", &st) != 0, "folded into the file and removed at finish")
        } else {
            #expect(lstat(path + ".markers", &st) == 0 && st.st_mode & 0o777 == 0o600, "the sidecar stays, private")
        }
        // The file holds exactly its frames (ffprobe, where it reads the type).
        if let ff = try? await runProgram("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", path],
                                          environment: ProcessInfo.processInfo.environment, scratch: dir), ff.exitCode == 0, type != .flac {
            #expect(ff.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "12000", "\(ff)")
        }
        // The list the console shows is the recording's until the next one starts.
        try out.startRecording(to: dir.path("next.\(type.fileExtension)"), fileType: type)
        #expect(out.recentMarkers.isEmpty && out.markerCount == 0)
        _ = try out.stopRecording()
    }

    /// A marker added while paused for a frame the writer hasn't reached yet (`CaptureSession.addMarker`
    /// takes the capture thread's count, ahead of the writer) lands where the pause began, not in
    /// the audio after the resume.
    @Test func markerAheadOfTheWriterWhilePausedLandsAtThePause() async throws {
        let dir = try TempDir("capdeck-markers")
        defer { dir.remove() }
        let path = dir.path("take.wav")
        let out = CaptureAudioFileOutput(format: Self.format)
        try out.startRecording(to: path, fileType: .wav)
        try write(out, 9600)
        out.pause()
        try write(out, 1200)  // stream 9600..<10800 skipped
        out.addMarker(RecordingMarker(frame: 11_500, label: "ahead"))
        try write(out, 1200)
        out.resume()
        try write(out, 2400)
        _ = try out.stopRecording()
        #expect(try await readMarkers(path, scratch: dir) == [ReadMarker(frame: 9600, label: "pause"), ReadMarker(frame: 9600, label: "ahead"),
                                                            ReadMarker(frame: 9600, label: "resume")])
    }

    /// A WAV finished with its cue points, whose sidecar outlived the finish (a crash between the
    /// two): recover removes the sidecar and says so, instead of "nothing to do" after a change.
    @Test func aLeftoverSidecarOfAFinishedWAVIsRemovedAndSaid() async throws {
        let dir = try TempDir("capdeck-markers")
        defer { dir.remove() }
        let path = dir.path("take.wav")
        let rec = try SndfileRecorder(path: path, format: Self.format, fileType: .wav)
        let bytes = [UInt8](repeating: 0x22, count: 4800 * Self.format.bytesPerFrame)
        try bytes.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4800) }
        rec.addMarker(RecordingMarker(frame: 1234, label: "kept"))
        try rec.checkpoint()
        let saved = try Data(contentsOf: URL(fileURLWithPath: path + ".markers"))
        try rec.finish()
        #expect(access(path + ".markers", F_OK) != 0, "finish folds and removes it")
        try saved.write(to: URL(fileURLWithPath: path + ".markers"))
        let (outcome, markers) = Recovery.recoverWithMarkers(path: path)
        #expect(outcome == .alreadyComplete(container: "WAV", frames: 4800) && markers == .sidecarRemoved, "\(outcome) \(markers)")
        #expect(markers.note(path: path) == "removed \(path).markers, whose markers the file already holds")
        #expect(access(path + ".markers", F_OK) != 0)
        #expect(try await readMarkers(path, scratch: dir) == [ReadMarker(frame: 1234, label: "kept")], "once, not twice")
        #expect(Recovery.recoverWithMarkers(path: path).markers == .none)
    }

    /// A W64/CAF/FLAC take that crashes keeps the markers the last checkpoint synced in its
    /// sidecar, and `recover` leaves the sidecar alone (it is those types' record).
    @Test(arguments: [FileType.w64, .caf, .flac])
    func sidecarTypesKeepMarkersThroughACrashAndRecover(_ type: FileType) async throws {
        let dir = try TempDir("capdeck-markers")
        defer { dir.remove() }
        let path = dir.path("take.\(type.fileExtension)")
        let rec = try SndfileRecorder(path: path, format: Self.format, fileType: type)
        let bytes = [UInt8](repeating: 0x22, count: 4800 * Self.format.bytesPerFrame)
        try bytes.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4800) }
        rec.addMarker(RecordingMarker(frame: 4321, label: "route: a -> b (gap 0 ms)"))
        try rec.checkpoint()
        let crashed = dir.path("crashed.\(type.fileExtension)")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try FileManager.default.copyItem(atPath: path + ".markers", toPath: crashed + ".markers")
        try rec.finish()
        _ = Recovery.recover(path: crashed)
        #expect(try await readMarkers(crashed, scratch: dir) == [ReadMarker(frame: 4321, label: "route: a -> b (gap 0 ms)")])
        #expect(try await readMarkers(path, scratch: dir) == [ReadMarker(frame: 4321, label: "route: a -> b (gap 0 ms)")])
    }
}
