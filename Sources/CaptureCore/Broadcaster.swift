// One value stream, many listeners: callbacks with tokens, or async sequences.
import Synchronization

/// Delivers each sent value to every registered handler (on the sending thread) and to every
/// `stream()` iterator. Thread-safe.
public final class Broadcaster<Value: Sendable>: Sendable {
    private let handlers = Mutex<[Int: @Sendable (Value) -> Void]>([:])
    private let nextToken = Atomic<Int>(0)

    public init() {}

    /// Registers `handler`; returns a token for `remove`.
    @discardableResult
    public func add(_ handler: @escaping @Sendable (Value) -> Void) -> Int {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        handlers.withLock { $0[token] = handler }
        return token
    }

    public func remove(_ token: Int) { _ = handlers.withLock { $0.removeValue(forKey: token) } }

    /// Every value sent from now on (keeps the newest 256 if the reader falls behind).
    public func stream() -> AsyncStream<Value> {
        AsyncStream(bufferingPolicy: .bufferingNewest(256)) { continuation in
            let token = add { continuation.yield($0) }
            continuation.onTermination = { [weak self] _ in self?.remove(token) }
        }
    }

    public func send(_ value: Value) {
        for h in handlers.withLock({ Array($0.values) }) { h(value) }
    }
}
