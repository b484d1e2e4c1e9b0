// SIGINT, SIGTERM and SIGHUP: handled on a queue of their own, so a signal never kills a
// half-made recording; SIGUSR1, which splits the recording; and the flag the console polls.
import Dispatch
import Glibc
import Synchronization

/// SIGINT, SIGTERM and SIGHUP run `handler` (on a private queue) instead of killing the process.
public final class SignalHandlers {
    private let sources: [DispatchSourceSignal]

    public init(_ handler: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "capdeck.signals")
        sources = [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler(handler: handler)
            s.resume()
            return s
        }
    }

    public func cancel() { sources.forEach { $0.cancel() } }
}

/// SIGUSR1 runs `handler` (on a private queue): the next file at once, as arecord.
public final class SplitSignal {
    private let source: DispatchSourceSignal

    public init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGUSR1, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue(label: "capdeck.signals.split"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    public func cancel() { source.cancel() }
}

/// Set from a signal handler queue, read by the render loop.
public final class SignalFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    public init() {}
    public func raise() { raised.store(true, ordering: .relaxed) }
    public var isRaised: Bool { raised.load(ordering: .relaxed) }
}
