// The single-producer single-consumer frame ring between the capture queue and the writer queue.
import Synchronization

/// A contiguous region of the ring: `frames` frames starting at `pointer`.
public struct RingRegion {
    public let pointer: UnsafeMutableRawPointer?
    public let frames: Int
    @inline(__always) public init(pointer: UnsafeMutableRawPointer?, frames: Int) {
        self.pointer = pointer
        self.frames = frames
    }
}

/// Up to two regions covering the writable or readable part of the ring (two when it wraps).
public struct RingVector {
    public let first: RingRegion
    public let second: RingRegion
    public var frames: Int { first.frames + second.frames }
}

/// A lock-free SPSC ring of interleaved audio frames with a zero-copy vector API.
///
/// Threading: exactly one producer thread calls `writeVector`/`commitWrite`, exactly one
/// consumer thread calls `readVector`/`commitRead`. The producer publishes with a release store
/// of `writeIndex` after the frames are in place; the consumer acquires it before reading, and
/// the mirror holds for `readIndex`. Each side reads its own index relaxed. Indices count
/// frames monotonically (Int never wraps in practice: 2^63 frames is 6 million years at 48 kHz),
/// and the position in storage is `index & mask`, so capacity is a power of two.
/// Nothing here allocates, locks or makes a system call after `init`. Debug builds check that each
/// side stays on one thread (`ThreadOwner`).
///
/// `@unchecked Sendable`: the storage is shared raw memory whose every access is ordered by the
/// two indices' release/acquire pairs, one writer per index (checked in debug builds).
public final class FrameRing: @unchecked Sendable {
    public let capacity: Int
    public let bytesPerFrame: Int
    private let mask: Int
    private let storage: UnsafeMutableRawPointer
    private let writeIndex = Atomic<Int>(0)
    private let readIndex = Atomic<Int>(0)
    private let producer = ThreadOwner("FrameRing's producer side")
    private let consumer = ThreadOwner("FrameRing's consumer side")

    /// - Parameters:
    ///   - minimumFrames: rounded up to the next power of two.
    ///   - bytesPerFrame: size of one interleaved frame.
    public init(minimumFrames: Int, bytesPerFrame: Int) {
        precondition(minimumFrames > 0 && bytesPerFrame > 0)
        var cap = 1
        while cap < minimumFrames { cap <<= 1 }
        capacity = cap
        mask = cap - 1
        self.bytesPerFrame = bytesPerFrame
        storage = UnsafeMutableRawPointer.allocate(byteCount: cap * bytesPerFrame, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: cap * bytesPerFrame)
    }

    deinit { storage.deallocate() }

    /// The storage, for pinning it in memory (mlock) before real-time use.
    public var storageBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage, count: capacity * bytesPerFrame)
    }

    // MARK: Producer side (one thread)

    /// Frames that may be written now. Producer only.
    @inline(__always)
    public var writableFrames: Int {
        producer.check()
        let w = writeIndex.load(ordering: .relaxed)
        let r = readIndex.load(ordering: .acquiring)
        return capacity - (w - r)
    }

    /// The free space as up to two regions. Producer only.
    @inline(__always)
    public func writeVector() -> RingVector {
        producer.check()
        let w = writeIndex.load(ordering: .relaxed)
        let r = readIndex.load(ordering: .acquiring)
        return vector(start: w, count: capacity - (w - r))
    }

    /// Publishes `frames` frames written into the write vector. Producer only.
    @inline(__always)
    public func commitWrite(_ frames: Int) {
        producer.check()
        let w = writeIndex.load(ordering: .relaxed)
        precondition(frames >= 0 && frames <= capacity - (w - readIndex.load(ordering: .relaxed)))
        writeIndex.store(w + frames, ordering: .releasing)
    }

    // MARK: Consumer side (one thread)

    /// Frames that may be read now. Consumer only.
    @inline(__always)
    public var readableFrames: Int {
        consumer.check()
        let r = readIndex.load(ordering: .relaxed)
        return writeIndex.load(ordering: .acquiring) - r
    }

    /// The filled part (at most `limit` frames) as up to two regions. Consumer only.
    @inline(__always)
    public func readVector(limit: Int = .max) -> RingVector {
        consumer.check()
        let r = readIndex.load(ordering: .relaxed)
        let w = writeIndex.load(ordering: .acquiring)
        return vector(start: r, count: Swift.min(w - r, limit))
    }

    /// Releases `frames` frames back to the producer. Consumer only.
    @inline(__always)
    public func commitRead(_ frames: Int) {
        consumer.check()
        let r = readIndex.load(ordering: .relaxed)
        precondition(frames >= 0 && frames <= writeIndex.load(ordering: .relaxed) - r)
        readIndex.store(r + frames, ordering: .releasing)
    }

    /// Total frames ever written (for either side's statistics).
    public var totalWritten: Int { writeIndex.load(ordering: .acquiring) }
    /// Total frames ever read.
    public var totalRead: Int { readIndex.load(ordering: .acquiring) }

    @inline(__always)
    private func vector(start: Int, count: Int) -> RingVector {
        let pos = start & mask
        let firstCount = min(count, capacity - pos)
        let first = RingRegion(pointer: storage + pos * bytesPerFrame, frames: firstCount)
        let second = RingRegion(pointer: storage, frames: count - firstCount)
        return RingVector(first: first, second: second)
    }
}
