// The writer queue's work: drain the ring into the meter and the recording sink, checkpoint the
// file once a second (of wall time and of audio), finish it, and publish the summary.
//
// Ownership: runs on the engine's writer queue (one long work item), the only consumer of the ring
// and the only user of the meter and the sink; it never touches the device.
import Dispatch
import Glibc
import Synchronization

extension CaptureEngine {
    // MARK: Writer queue

    func writerLoop(_ run: EngineRun) {
        let ring = run.ring
        let meter = run.meter
        var writeError: RecordingError?
        var lastCheckpoint = monotonicNanos()
        let checkpointInterval: UInt64 = 1_000_000_000
        // Checkpoint at least once a second of wall time and once a second of audio, so an
        // unpaced capture also never has more than ~1 s of audio beyond its last header.
        let checkpointFrames = configuration.recordingFormat.sampleRate
        var framesSinceCheckpoint = 0
        // One past the newest marker's frame handed to the sink: a marker at a frame not yet
        // captured waits in its file for that frame, so until the ring's reader passes it the
        // writer wakes as soon as it has arrived, not a whole batch later.
        var markerHorizon = 0
        while true {
            let v = ring.readVector(limit: checkpointFrames)
            if v.frames == 0 {
                if captureEnded.load(ordering: .acquiring) && ring.readableFrames == 0 { break }
                // Sleep until a batch has gathered (the capture thread rings at that level, not
                // at each period), the capture ends, a marker arrives, or the idle timeout passes
                // (`EngineRun.writerIdleTimeoutMs`).
                let level = markerHorizon > ring.totalRead ? Swift.min(run.writerBatch, markerHorizon - ring.totalRead) : run.writerBatch
                dataBell.prepareToWait(untilLevel: level)
                if ring.readableFrames < level && !captureEnded.load(ordering: .sequentiallyConsistent)
                    && (sink == nil || markersPending.load(ordering: .sequentiallyConsistent) == 0) {
                    _ = dataBell.wait(timeoutMs: run.writerIdleTimeoutMs)
                }
                dataBell.cancelWait()
                // Woken with audio to write: write it before the markers and the checkpoint below,
                // so a marker finds its frames in the file and a checkpoint covers them (one that
                // finds the file deleted stops the recording: it would drop the batch that woke us).
                if ring.readableFrames > 0 { continue }
            } else {
                for region in 0..<2 {
                    let r = region == 0 ? v.first : v.second
                    guard r.frames > 0, let p = r.pointer.map(UnsafeRawPointer.init) else { continue }
                    // A channel selection: the selected channels, gathered a chunk at a time. Else
                    // pieces that stay in the cache from the meter's read to the sink's copy (a
                    // second of 64 channels is 24 MB: written whole, write(2) copied it from RAM).
                    let chunk = run.selection == nil ? Swift.max(1, EngineRun.cachedBytes / ring.bytesPerFrame) : EngineRun.gatherFrames
                    var done = 0
                    while done < r.frames {
                        let n = Swift.min(chunk, r.frames - done)
                        var frames = p + done * ring.bytesPerFrame
                        if let (sel, ringFormat) = run.selection, let g = run.gathered {
                            sel.gather(from: frames, ringFormat, to: g, frames: n)
                            frames = UnsafeRawPointer(g)
                        }
                        meter.process(frames, frames: n)
                        if let sink, writeError == nil {
                            do throws(RecordingError) {
                                try sink.write(frames, count: n)
                            } catch {
                                writeError = error
                                stop()
                            }
                        }
                        done += n
                    }
                }
                ring.commitRead(v.frames)
                written.add(v.frames, ordering: .relaxed)
                spaceBell.ringIfWaiting()
                framesSinceCheckpoint += v.frames
            }
            // Markers go to the sink as soon as the writer passes by, while their file is open (a
            // console recording may end a moment after a marker, long before the engine does):
            // one relaxed load per pass, the lock only when there are some.
            if let sink, markersPending.load(ordering: .acquiring) > 0 {
                markersPending.store(0, ordering: .relaxed)
                for m in markers.withLock({ m -> [RecordingMarker] in defer { m.removeAll() }; return m }) {
                    markerHorizon = Swift.max(markerHorizon, m.frame + 1)
                    sink.addMarker(m)
                }
            }
            let now = monotonicNanos()
            if now - lastCheckpoint >= checkpointInterval || framesSinceCheckpoint >= checkpointFrames {
                lastCheckpoint = now
                framesSinceCheckpoint = 0
                if let sink, writeError == nil {
                    do throws(RecordingError) { try sink.checkpoint() } catch {
                        writeError = error
                        stop()
                    }
                }
            }
        }
        if let sink {
            for m in markers.withLock({ m -> [RecordingMarker] in defer { m.removeAll() }; return m }) { sink.addMarker(m) }
            do throws(RecordingError) { try sink.finish() } catch {
                if writeError == nil { writeError = error }
            }
        }
        let savedFrames = sink?.framesWritten ?? ring.totalRead
        state.withLock { s in
            s.writeError = writeError
            var end = s.captureEnd ?? .stopped
            if let writeError { end = .writeFailed(writeError) }
            s.summary = CaptureSummary(framesCaptured: capturedFrames.load(ordering: .relaxed),
                                       framesWritten: savedFrames, xruns: xruns.load(ordering: .relaxed),
                                       endReason: end)
        }
        finished.leave()
    }
}

extension EngineRun {
    /// The writer's piece of the ring (bytes): metered, then handed to the sink while in the cache.
    static let cachedBytes = 128 * 1024
}
