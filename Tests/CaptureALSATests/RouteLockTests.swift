// CaptureDeck's exclusive-route lock (issue 16 item 2): only "someone holds it" (EWOULDBLOCK) is
// busy; a filesystem without locks is said as it is, instead of a wait for a holder that doesn't
// exist. The holder's pid is in the file, so another CaptureDeck can tell who holds a route.
@testable import CaptureALSA
import CaptureCore
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct RouteLockTests {
    func withRuntimeDir(_ body: () throws -> Void) rethrows {
        let dir = NSTemporaryDirectory() + "capdeck-routelock-\(getpid())-\(UUID().uuidString.prefix(8))"
        mkdir(dir, 0o700)
        let old = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }
        setenv("XDG_RUNTIME_DIR", dir, 1)
        defer {
            if let old { setenv("XDG_RUNTIME_DIR", old, 1) } else { unsetenv("XDG_RUNTIME_DIR") }
            try? FileManager.default.removeItem(atPath: dir)
        }
        try body()
    }

    @Test func aHeldLockIsBusyAndNamesItsHolder() throws {
        try withRuntimeDir {
            let first = try RouteLock(pcm: "hw:7")
            #expect(RouteLock.holder(pcm: "hw:7") == getpid())
            #expect(throws: DeviceError.busy(device: "hw:7")) { try RouteLock(pcm: "hw:7") }
            _ = first
        }
    }

    @Test(arguments: [ENOLCK, EINVAL, EBADF])
    func aLockThatCannotBeTakenIsNotBusy(_ code: Int32) {
        withRuntimeDir {
            do {
                _ = try RouteLock(pcm: "hw:8", lock: { _, _ in Glibc.errno = code; return -1 })
                Issue.record("the lock was taken")
            } catch {
                guard let e = error as? DeviceError, case .unavailable(_, let reason) = e else {
                    Issue.record("\(Errno(code)) reported as \(error)")
                    return
                }
                #expect(reason.contains(Errno(code).description) && reason.contains("may not support locks"), "\(reason)")
            }
        }
    }

    @Test func anInterruptedLockIsTriedAgain() throws {
        try withRuntimeDir {
            var calls = 0
            let l = try RouteLock(pcm: "hw:9", lock: { fd, op in
                calls += 1
                if calls == 1 { Glibc.errno = EINTR; return -1 }
                return flock(fd, op)
            })
            #expect(calls == 2)
            _ = l
        }
    }
}
