// CMBlockBuffer: an immutable-size block of media bytes, with CoreMedia's C functions and the
// Swift-era members; CFAllocator, which CoreMedia's signatures take and Linux doesn't have.
import Foundation

/// CoreFoundation's allocator type, present so Apple's signatures compile. CaptureDeck allocates
/// its own buffers: every allocator argument (nil, `kCFAllocatorDefault`, …) is accepted and
/// ignored.
public final class CFAllocator: Sendable {
    private init() {}
    static let system = CFAllocator()
}

/// nil, as on Apple's platforms: the default allocator.
public let kCFAllocatorDefault: CFAllocator? = nil
public let kCFAllocatorSystemDefault: CFAllocator? = CFAllocator.system
public let kCFAllocatorMalloc: CFAllocator? = CFAllocator.system

/// The domain Apple's Swift-era CoreMedia members throw their `OSStatus` codes in.
let NSOSStatusErrorDomain = "NSOSStatusErrorDomain"

func osStatusError(_ status: OSStatus) -> NSError {
    NSError(domain: NSOSStatusErrorDomain, code: Int(status))
}

public var kCMBlockBufferNoErr: OSStatus { 0 }
public var kCMBlockBufferStructureAllocationFailedErr: OSStatus { -12700 }
public var kCMBlockBufferBlockAllocationFailedErr: OSStatus { -12701 }
public var kCMBlockBufferBadCustomBlockSourceErr: OSStatus { -12702 }
public var kCMBlockBufferBadOffsetParameterErr: OSStatus { -12703 }
public var kCMBlockBufferBadLengthParameterErr: OSStatus { -12704 }
public var kCMBlockBufferBadPointerParameterErr: OSStatus { -12705 }
public var kCMBlockBufferEmptyBBufErr: OSStatus { -12706 }
public var kCMBlockBufferUnallocatedBlockErr: OSStatus { -12707 }
public var kCMBlockBufferInsufficientSpaceErr: OSStatus { -12708 }

/// A contiguous, 16-byte-aligned block of bytes that lives as long as the buffer does.
///
/// Pointers it hands out (`CMBlockBufferGetDataPointer`, an `AudioBufferList`'s `mData`,
/// `withUnsafeMutableBytes`) stay valid while the block buffer is referenced.
/// `@unchecked Sendable`: the storage is written once, before the buffer is shared; later writes
/// go only through pointers the caller asked for, as on Apple's platforms (where a shared
/// buffer's bytes are the caller's to keep unchanged).
public final class CMBlockBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawPointer
    let length: Int

    /// A block holding a copy of `bytes`.
    init(copying bytes: UnsafeRawBufferPointer) {
        length = bytes.count
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        if let base = bytes.baseAddress, bytes.count > 0 { storage.copyMemory(from: base, byteCount: bytes.count) }
    }

    deinit { storage.deallocate() }

    /// `CMBlockBufferGetDataLength`.
    public var dataLength: Int { length }
    /// `CMBlockBufferIsEmpty`.
    public var isEmpty: Bool { length == 0 }

    /// Copies the bytes from `offset` on into `destination` (as many as it holds). Throws an
    /// `NSOSStatusErrorDomain` error with `kCMBlockBufferBadOffsetParameterErr` or
    /// `kCMBlockBufferBadLengthParameterErr` when the range doesn't fit the buffer.
    public func copyDataBytes(fromOffset offset: Int = 0, to destination: UnsafeMutableRawBufferPointer) throws {
        guard let base = destination.baseAddress else { return }
        let status = CMBlockBufferCopyDataBytes(self, atOffset: offset, dataLength: destination.count, destination: base)
        if status != kCMBlockBufferNoErr { throw osStatusError(status) }
    }

    /// The bytes from `offset` on (all of them by default), copied into `Data`.
    public func dataBytes(fromOffset offset: Int = 0) throws -> Data {
        guard offset >= 0, offset <= length else { throw osStatusError(kCMBlockBufferBadOffsetParameterErr) }
        return Data(bytes: storage + offset, count: length - offset)
    }

    /// Calls `body` with the buffer's bytes from `offset` on, contiguous.
    public func withUnsafeMutableBytes<R>(atOffset offset: Int = 0, _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        guard offset >= 0, offset <= length else { throw osStatusError(kCMBlockBufferBadOffsetParameterErr) }
        return try body(UnsafeMutableRawBufferPointer(start: storage + offset, count: length - offset))
    }

    /// `CMBlockBufferIsRangeContiguous`: every in-range range is (the storage is one block).
    public func isContiguous(atOffset offset: Int, length: Int) -> Bool {
        CMBlockBufferIsRangeContiguous(self, atOffset: offset, length: length)
    }
}

public func CMBlockBufferGetDataLength(_ theBuffer: CMBlockBuffer) -> Int {
    theBuffer.length
}

public func CMBlockBufferIsEmpty(_ theBuffer: CMBlockBuffer) -> Bool {
    theBuffer.length == 0
}

/// Whether `offset..<offset+length` lies in the buffer (a length of 0 means to the end).
public func CMBlockBufferIsRangeContiguous(_ theBuffer: CMBlockBuffer, atOffset offset: Int, length: Int) -> Bool {
    let len = length == 0 ? theBuffer.length - offset : length
    return offset >= 0 && len >= 0 && offset + len <= theBuffer.length
}

/// Copies `dataLength` bytes from `offsetToData` into `destination`. `dataLength` must not be
/// zero; the range must lie in the buffer.
public func CMBlockBufferCopyDataBytes(_ theSourceBuffer: CMBlockBuffer, atOffset offsetToData: Int, dataLength: Int,
                                       destination: UnsafeMutableRawPointer) -> OSStatus {
    guard offsetToData >= 0, offsetToData < theSourceBuffer.length else { return kCMBlockBufferBadOffsetParameterErr }
    guard dataLength > 0, dataLength <= theSourceBuffer.length - offsetToData else { return kCMBlockBufferBadLengthParameterErr }
    destination.copyMemory(from: theSourceBuffer.storage + offsetToData, byteCount: dataLength)
    return kCMBlockBufferNoErr
}

/// A pointer into the buffer at `offset`, the bytes contiguous from there, and the total length.
/// The pointer stays valid while `theBuffer` lives.
public func CMBlockBufferGetDataPointer(_ theBuffer: CMBlockBuffer, atOffset offset: Int,
                                       lengthAtOffsetOut: UnsafeMutablePointer<Int>?,
                                       totalLengthOut: UnsafeMutablePointer<Int>?,
                                       dataPointerOut: UnsafeMutablePointer<UnsafeMutablePointer<Int8>?>?) -> OSStatus {
    guard offset >= 0, offset < theBuffer.length else {
        lengthAtOffsetOut?.pointee = 0
        totalLengthOut?.pointee = theBuffer.length
        dataPointerOut?.pointee = nil
        return kCMBlockBufferBadOffsetParameterErr
    }
    lengthAtOffsetOut?.pointee = theBuffer.length - offset
    totalLengthOut?.pointee = theBuffer.length
    dataPointerOut?.pointee = (theBuffer.storage + offset).assumingMemoryBound(to: Int8.self)
    return kCMBlockBufferNoErr
}

/// A pointer to `length` contiguous bytes at `offset`: always into the buffer itself (it is one
/// block), so `temporaryBlock` is never written.
public func CMBlockBufferAccessDataBytes(_ theBuffer: CMBlockBuffer, atOffset offset: Int, length: Int,
                                        temporaryBlock: UnsafeMutableRawPointer,
                                        returnedPointerOut: UnsafeMutablePointer<UnsafeMutablePointer<Int8>?>) -> OSStatus {
    guard offset >= 0, offset < theBuffer.length else { return kCMBlockBufferBadOffsetParameterErr }
    guard length > 0, length <= theBuffer.length - offset else { return kCMBlockBufferBadLengthParameterErr }
    returnedPointerOut.pointee = (theBuffer.storage + offset).assumingMemoryBound(to: Int8.self)
    return kCMBlockBufferNoErr
}
