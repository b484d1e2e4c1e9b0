// errno, read in exactly one place (as swift-system's Errno and NIO's System.swift do): the C
// library's error number is only meaningful right after the call that failed, before any other
// call (even a strerror, a close, or an allocation) can overwrite it. Every system call that can
// fail goes through one of the wrappers here, which read it at once and hand it on as a value.
import Glibc

/// A POSIX error number.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    @inline(__always) public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno, now. The only read of `errno` in CaptureDeck: call it right
    /// after the failing call (the wrappers below do).
    @inline(__always) public static var current: Errno { Errno(Glibc.errno) }

    /// No error (for `SyscallResult`).
    public static let none = Errno(0)
    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EWOULDBLOCK)
    public static let exists = Errno(EEXIST)
    public static let notFound = Errno(ENOENT)
    public static let noSpace = Errno(ENOSPC)
    public static let tooManyOpenFiles = Errno(EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(ENFILE)
    public static let noLocks = Errno(ENOLCK)

    /// The process or the system ran out of file descriptors: not a fault of any one device.
    public var isDescriptorLimit: Bool { self == .tooManyOpenFiles || self == .tooManyOpenFilesInSystem }

    /// The C library's text ("No space left on device"); for a descriptor limit, also what it
    /// means and what to do, wherever it is met.
    public var description: String {
        let text = String(cString: strerror(rawValue))
        return isDescriptorLimit ? "out of file descriptors (\(text)): close other programs, or raise the limit (ulimit -n)" : text
    }
}

/// What a system call on the real-time path returned: its value, or the errno it failed with.
/// (No throwing and no generics there: nothing that could allocate type metadata lazily.)
public struct SyscallResult: Sendable {
    public let value: Int
    /// `.none` when the call succeeded.
    public let error: Errno
    @inline(__always) public var failed: Bool { error != .none }
}

/// Calls `body` (a system call returning -1 on failure) until it doesn't fail with EINTR, as
/// alsa-lib does: EINTR means "try again" everywhere. Real-time safe.
@inline(__always)
public func retryingInterrupts(_ body: () -> Int) -> SyscallResult {
    while true {
        let r = body()
        if r != -1 { return SyscallResult(value: r, error: .none) }
        let e = Errno.current
        if e != .interrupted { return SyscallResult(value: r, error: e) }
    }
}

/// The throwing form, for code off the real-time path: the call's value, or its errno thrown.
/// Retries EINTR.
@discardableResult @inline(__always)
public func valueOrErrno<T: BinaryInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Errno.current
        if e != .interrupted { throw e }
    }
}

/// A failed system call: the operation and its errno, with the C library's text.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Errno
    public init(operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation): \(errno)" }
}

/// The errno of `body` (a system call returning -1 on failure) if it failed, else nil; retries
/// EINTR. Off the real-time path: `if let e = failure({ fsync(fd) }) { … }`.
@inline(__always)
public func failure<T: BinaryInteger>(_ body: () -> T) -> Errno? {
    do throws(Errno) { try valueOrErrno(body); return nil } catch { return error }
}

/// Writes all of `bytes` at `offset` (pwrite, retrying EINTR and short writes); the errno of a
/// failure, or nil. A write that makes no progress and sets no errno is EIO.
public func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int) -> Errno? {
    var done = 0
    while done < bytes.count {
        let r = retryingInterrupts { bytes[done...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset + done)) } }
        if r.failed { return r.error }
        if r.value == 0 { return Errno(EIO) }
        done += r.value
    }
    return nil
}
