// The SPSC ring: a two-thread producer/consumer sequence check over odd sizes and 1-8 channels.
import CaptureCore
import Foundation
import Testing

@Suite struct RingBufferTests {
    @Test func capacityRoundsUpToPowerOfTwo() {
        #expect(FrameRing(minimumFrames: 1000, bytesPerFrame: 4).capacity == 1024)
        #expect(FrameRing(minimumFrames: 1024, bytesPerFrame: 4).capacity == 1024)
        #expect(FrameRing(minimumFrames: 1, bytesPerFrame: 4).capacity == 1)
    }

    @Test func vectorsSplitAtTheWrap() {
        let ring = FrameRing(minimumFrames: 8, bytesPerFrame: 2)
        #expect(ring.writeVector().frames == 8)
        ring.commitWrite(6)
        #expect(ring.readVector().frames == 6)
        ring.commitRead(5)
        let w = ring.writeVector()
        #expect(w.first.frames == 2)   // positions 6, 7
        #expect(w.second.frames == 5)  // positions 0-4
        #expect(ring.writableFrames == 7)
        ring.commitWrite(7)
        let r = ring.readVector()
        #expect(r.first.frames == 3 && r.second.frames == 5)
        #expect(ring.writableFrames == 0)
    }

    /// One producer thread writes a numbered frame sequence in odd-sized chunks through the
    /// zero-copy write vector; one consumer thread reads it back in other odd sizes and checks
    /// every sample of every frame arrives once, in order.
    @Test(arguments: [1, 2, 3, 5, 6, 8])
    func twoThreadSequenceIsExact(channels: Int) async throws {
        let ring = FrameRing(minimumFrames: 999, bytesPerFrame: channels * 4)
        let total = 300_000
        let producerChunks = [1, 7, 13, 127, 250, 509, 3]
        let consumerChunks = [5, 11, 333, 17, 1, 1023]
        let failures = ManagedAtomicCounter()

        let producer = Thread {
            var next = 0
            var i = 0
            while next < total {
                let want = min(producerChunks[i % producerChunks.count], total - next)
                i += 1
                let v = ring.writeVector()
                let n = min(want, v.frames)
                if n == 0 { sched_yield(); continue }
                for f in 0..<n {
                    let region = f < v.first.frames ? v.first : v.second
                    let idx = f < v.first.frames ? f : f - v.first.frames
                    let p = region.pointer!.advanced(by: idx * channels * 4)
                    for ch in 0..<channels {
                        p.storeBytes(of: UInt32(truncatingIfNeeded: (next + f) &* 8 &+ ch), toByteOffset: ch * 4, as: UInt32.self)
                    }
                }
                ring.commitWrite(n)
                next += n
            }
        }
        let done = DispatchSemaphore(value: 0)
        let consumer = Thread {
            var expected = 0
            var i = 0
            while expected < total {
                let want = consumerChunks[i % consumerChunks.count]
                i += 1
                let v = ring.readVector()
                let n = min(want, v.frames)
                if n == 0 { sched_yield(); continue }
                for f in 0..<n {
                    let region = f < v.first.frames ? v.first : v.second
                    let idx = f < v.first.frames ? f : f - v.first.frames
                    let p = UnsafeRawPointer(region.pointer!.advanced(by: idx * channels * 4))
                    for ch in 0..<channels {
                        let got = p.load(fromByteOffset: ch * 4, as: UInt32.self)
                        if got != UInt32(truncatingIfNeeded: (expected + f) &* 8 &+ ch) { failures.increment() }
                    }
                }
                ring.commitRead(n)
                expected += n
            }
            done.signal()
        }
        consumer.start()
        producer.start()
        done.wait()
        #expect(failures.value == 0)
        #expect(ring.totalRead == total && ring.totalWritten == total)
    }
}

/// A tiny thread-safe counter for test threads.
final class ManagedAtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
