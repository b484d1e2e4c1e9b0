// A value that belongs to one dispatch queue (as NIO's NIOLoopBound belongs to an event loop):
// reading or writing it anywhere else is a programmer error, caught in debug builds by
// dispatchPrecondition. Release builds compile the check away.
import Dispatch

/// `@unchecked Sendable`: every access is checked (debug builds) to happen on `queue`, a serial
/// queue, so the value has one owner at a time.
public final class QueueBound<Value>: @unchecked Sendable {
    private let queue: DispatchQueue
    private var stored: Value

    public init(_ value: Value, queue: DispatchQueue) {
        self.queue = queue
        stored = value
    }

    /// The value; only on `queue`.
    public var value: Value {
        get {
            #if DEBUG
            dispatchPrecondition(condition: .onQueue(queue))
            #endif
            return stored
        }
        set {
            #if DEBUG
            dispatchPrecondition(condition: .onQueue(queue))
            #endif
            stored = newValue
        }
    }
}
