// The real ALSA capture path (file-over-null test PCM) makes no heap allocation after start.
import CAllocCounter
import CaptureALSA
import CaptureCore
import Foundation
import Testing

@Suite(.serialized) struct ALSAAllocationTests {
    /// Writes an infile and a config defining `pcm.capdeck_alloc_test`, and returns the config path.
    static func makeConfig(dir: String, format: StreamFormat, seconds: Int) throws -> String {
        let raw = dir + "/in.raw"
        var bytes = [UInt8](repeating: 0, count: format.sampleRate * seconds * format.bytesPerFrame)
        for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        let conf = dir + "/test.conf"
        try """
        pcm.capdeck_alloc_test { type file slave.pcm null file "/dev/null" infile "\(raw)" format "raw" }
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        return conf
    }

    @Test func alsaCaptureThreadDoesNotAllocate() throws {
        #expect(CAllocCounter_totalCount() > 0, "the allocation counter is not interposed")
        let dir = NSTemporaryDirectory() + "capdeck-alloc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let conf = try Self.makeConfig(dir: dir, format: format, seconds: 120)

        // ALSA reads ALSA_CONFIG_PATH when a PCM is opened; keep the system config in the list.
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + conf, 1)
        let device = ALSACaptureDevice(name: "capdeck_alloc_test")
        let engine = try CaptureEngine(
            device: device,
            configuration: .init(request: CaptureRequest(format: format, periodMicros: 2_000, bufferMicros: 8_000),
                                 realtimePriority: nil, maxFrames: 48_000 * 110, ringSeconds: 0.1))
        let granted = try engine.start()
        unsetenv("ALSA_CONFIG_PATH")
        let tid = engine.captureThreadID
        #expect(tid > 0)
        while engine.framesCaptured < 48_000 && !engine.isFinished { usleep(500) }  // warm-up
        CAllocCounter_watch(tid)
        let from = engine.framesCaptured
        let periods = 5_000
        while engine.framesCaptured - from < granted.periodFrames * periods && !engine.isFinished { usleep(500) }
        let allocations = CAllocCounter_count()
        let covered = (engine.framesCaptured - from) / granted.periodFrames
        CAllocCounter_watch(0)
        engine.stop()
        let summary = engine.waitUntilFinished()
        #expect(covered >= periods, "the test must cover thousands of periods")
        #expect(allocations == 0, "\(allocations) allocations over \(covered) periods of \(granted.periodFrames) frames")
        #expect(summary.xruns == 0)
    }
}
