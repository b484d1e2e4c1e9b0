// SIGINT, SIGTERM and SIGHUP (the control table's): handled on a queue of their own, so a signal
// never kills a half-made recording; SIGUSR1, which splits the recording; and the flag the
// console's render loop polls.
import ConsoleUI
import Dispatch
import Glibc
import Synchronization

/// The signals of a row of the control table (`KeyMap.controls`) run `handler` (on a private
/// queue) instead of killing the process: for `.quit`, SIGINT, SIGTERM and SIGHUP.
public final class SignalHandlers {
    private let sources: [DispatchSourceSignal]

    /// The signals the table may name.
    static let numbers: [String: Int32] = ["SIGINT": SIGINT, "SIGTERM": SIGTERM, "SIGHUP": SIGHUP,
                                           "SIGUSR1": SIGUSR1, "SIGUSR2": SIGUSR2]

    /// The signal numbers of `command`'s row in the control table.
    static func signals(for command: ConsoleCommand) -> [Int32] {
        KeyMap.controls.filter { $0.command == command }.flatMap(\.signals).map { name in
            guard let n = numbers[name] else { preconditionFailure("signal \(name) in the control table") }
            return n
        }
    }

    /// The quit row's signals (SIGINT, SIGTERM, SIGHUP): stop, save, exit.
    public convenience init(_ handler: @escaping @Sendable () -> Void) {
        self.init(for: .quit, handler)
    }

    public init(for command: ConsoleCommand, _ handler: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "capdeck.signals")
        sources = Self.signals(for: command).map { sig in
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
