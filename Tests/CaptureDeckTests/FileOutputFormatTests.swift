// A file output's format follows the data it is given (issue 10, finding 18): a recording
// started before the session runs is written in the input's format, read back by libsndfile
// and ffprobe; one that already holds frames in another format stops with an error.
import CaptureCore
import CaptureDeck
import CaptureFiles
import CSndfile
import Foundation
import Testing

/// A recording's header as libsndfile reads it.
struct SndfileInfo: Equatable {
    var sampleRate: Int
    var channels: Int
    var frames: Int
    /// The sample encoding (SF_FORMAT_SUBMASK); the container is WAV or, as written through
    /// RF64's auto-downgrade, WAVEX.
    var encoding: Int32

    static func read(_ path: String) -> SndfileInfo? {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        sf_close(f)
        let major = info.format & Int32(SF_FORMAT_TYPEMASK)
        guard major == Int32(SF_FORMAT_WAV) || major == Int32(SF_FORMAT_WAVEX) else { return nil }
        return SndfileInfo(sampleRate: Int(info.samplerate), channels: Int(info.channels), frames: Int(info.frames),
                           encoding: info.format & Int32(SF_FORMAT_SUBMASK))
    }
}

/// ffprobe's view of a file's first stream (`key=value` lines), or nil without ffprobe.
func ffprobeStream(_ path: String) throws -> [String: String]? {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffprobe") else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    p.arguments = ["-v", "error", "-select_streams", "a:0", "-count_packets",
                   "-show_entries", "stream=codec_name,sample_rate,channels,duration_ts", "-of", "default=noprint_wrappers=1", path]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    var fields: [String: String] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
        if kv.count == 2 { fields[kv[0]] = kv[1] }
    }
    return fields
}

@Suite(.serialized) struct FileOutputFormatTests {
    let input48kStereo = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)
    let output44kMono = StreamFormat(sampleFormat: .s16LE, sampleRate: 44_100, channels: 1)

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "capdeck-fileformat-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The built-in source (`-D builtin`), 48 kHz stereo, stopping by itself after `frames`.
    func session(format: StreamFormat, frames: Int) -> (CaptureSession, EventLog) {
        let session = CaptureSession()
        session.realtimePriority = nil
        session.maxFrames = frames
        session.addInput(CaptureDeviceInput(name: "builtin", routes: .forNamedPCM("builtin"), format: format))
        let log = EventLog()
        session.onEvent { log.append($0) }
        return (session, log)
    }

    @Test func recordingStartedBeforeRunningTakesTheInputsFormat() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/early.wav"
        let (session, log) = session(format: input48kStereo, frames: 24_000)
        let out = CaptureAudioFileOutput(format: output44kMono)
        session.addOutput(out)
        try out.startRecording(to: path, fileType: .wav)
        session.startRunning()
        #expect(log.wait(timeout: 10) { $0.contains(.didStopRunning) }, "\(log.events)")
        let saved = try #require(try out.stopRecording())
        #expect(saved.frames == 24_000)
        #expect(!log.events.contains { if case .runtimeError = $0 { true } else { false } }, "\(log.events)")
        let info = try #require(SndfileInfo.read(path), "libsndfile opens the file")
        #expect(info == SndfileInfo(sampleRate: 48_000, channels: 2, frames: 24_000, encoding: Int32(SF_FORMAT_PCM_16)))
        if let probe = try ffprobeStream(path) {
            #expect(probe["codec_name"] == "pcm_s16le" && probe["sample_rate"] == "48000" && probe["channels"] == "2", "\(probe)")
            #expect(probe["duration_ts"] == "24000", "\(probe)")
        }
        // The built-in sine is really there: not silence, not a torn interleave.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let pcm = data.suffix(24_000 * 4).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        #expect(pcm.count == 48_000 && (pcm.max() ?? 0) > 1000)
        #expect(zip(stride(from: 0, to: pcm.count, by: 2), stride(from: 1, to: pcm.count, by: 2)).allSatisfy { pcm[$0] == pcm[$1] },
                "both channels carry the same sine")
    }

    /// A file that already holds frames (in 48 kHz stereo) can't take a 44.1 kHz mono run: the
    /// recording stops with formatMismatch, reported as a runtime error, and the file is finished
    /// with the frames it had, intact. (Before: mono frames were read as stereo, past their end.)
    @Test func fileHoldingFramesInAnotherFormatStopsWithAnError() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/mixed.wav"
        let out = CaptureAudioFileOutput(format: input48kStereo)
        try out.startRecording(to: path, fileType: .wav)
        let frames = [Int16](repeating: 1234, count: 2 * 1000)
        try frames.withUnsafeBytes { try out.write($0.baseAddress!, count: 1000) }
        let (session, log) = session(format: output44kMono, frames: 4410)
        session.addOutput(out)
        session.startRunning()
        #expect(log.wait(timeout: 10) { $0.contains(.didStopRunning) }, "\(log.events)")
        let mismatch = RecordingError.formatMismatch(path: path, recorded: input48kStereo.description,
                                                     delivered: output44kMono.description, framesSaved: 1000)
        #expect(log.events.contains(.runtimeError(.recording(mismatch))), "\(log.events)")
        #expect(try out.stopRecording() == nil, "the recording stopped")
        #expect(out.error == mismatch)
        let info = try #require(SndfileInfo.read(path))
        #expect(info == SndfileInfo(sampleRate: 48_000, channels: 2, frames: 1000, encoding: Int32(SF_FORMAT_PCM_16)))
    }
}
