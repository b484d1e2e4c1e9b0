// The single-owner checks (issue 16 item 1): a ring side, or the xrun log, used from a second
// thread stops a debug build at once instead of corrupting audio silently.
import CaptureCore
import Foundation
import Testing

@Suite struct ThreadOwnerTests {
    #if DEBUG
    @Test func aSecondProducerThreadIsCaught() async {
        await #expect(processExitsWith: .failure) {
            let ring = FrameRing(minimumFrames: 64, bytesPerFrame: 4)
            _ = ring.writeVector()
            let done = DispatchSemaphore(value: 0)
            let t = Thread { _ = ring.writeVector(); done.signal() }
            t.start()
            done.wait()
        }
    }

    @Test func aSecondConsumerThreadIsCaught() async {
        await #expect(processExitsWith: .failure) {
            let ring = FrameRing(minimumFrames: 64, bytesPerFrame: 4)
            _ = ring.readVector()
            let done = DispatchSemaphore(value: 0)
            let t = Thread { ring.commitRead(0); done.signal() }
            t.start()
            done.wait()
        }
    }
    #endif

    @Test func eachSideOnItsOwnThreadIsFine() {
        let ring = FrameRing(minimumFrames: 1024, bytesPerFrame: 4)
        let done = DispatchSemaphore(value: 0)
        let producer = Thread {
            var sent = 0
            while sent < 100_000 {
                let v = ring.writeVector()
                let n = min(v.first.frames, 100_000 - sent)
                if n > 0 { ring.commitWrite(n); sent += n }
            }
            done.signal()
        }
        producer.start()
        var got = 0
        let deadline = Date().addingTimeInterval(10)
        while got < 100_000 && Date() < deadline {
            let v = ring.readVector()
            if v.frames > 0 { ring.commitRead(v.frames); got += v.frames }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(got == 100_000)
    }
}
