// CaptureSession: an AVCaptureSession-shaped API for audio capture on Linux.
import CaptureALSA
import CaptureCore
import CaptureFiles
import CapturePulse
import CaptureResample
import Dispatch
import Glibc
import Synchronization

/// Why a session was interrupted (`AVCaptureSession.InterruptionReason`).
public enum InterruptionReason: String, Sendable, Equatable {
    /// The audio hardware is temporarily unavailable: another program holds the exclusive device.
    case audioDeviceInUseByAnotherClient
    /// CaptureDeck extension: the device went away mid-capture (unplugged, driver gone); the
    /// session reopens it as soon as it is back (see `reconnectsLostDevices`).
    case audioDeviceDisconnected
    /// CaptureDeck extension: the device stopped delivering audio without an error for longer
    /// than max(1 s, 4 device buffers) (a sound server paused or stalled, a stream unlinked, a node
    /// suspended); the session reopens the route as for a lost device.
    case audioDeviceStalled
}

/// A session failure reported as a runtime error (`AVCaptureSessionRuntimeError`).
public enum CaptureSessionError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotStart(ResolutionFailure)
    case device(DeviceError)
    case recording(RecordingError)
    case noInput

    public var description: String {
        switch self {
        case .cannotStart(let f): "cannot start: \(f)"
        case .device(let e): e.description
        case .recording(let e): e.description
        case .noInput: "the session has no input"
        }
    }
}

/// A route change while running: which PCMs, what was negotiated, and the gap it cost.
public struct RouteChange: Sendable, Equatable {
    public var old: Route?
    public var new: Route
    public var granted: GrantedParameters
    /// Silence inserted in the recording for the switch, in milliseconds of wall-clock time.
    public var gapMs: Double
    public var gapFrames: Int
    /// Position in the session's stream where the switch happened.
    public var atFrame: Int
}

/// What the session tells its observers.
public enum CaptureSessionEvent: Sendable, Equatable {
    case didStartRunning(Route, GrantedParameters)
    case didStopRunning
    case runtimeError(CaptureSessionError)
    case wasInterrupted(InterruptionReason, wanted: Route)
    case interruptionEnded
    case routeChanged(RouteChange)
    /// The automatic configuration wrote into the app audio session.
    case appAudioSessionConfigured(AudioSessionState)
    /// Silence was inserted without a route change (a switch attempt that had to close the
    /// current device and could not open the new one), with where and why.
    case gap(atFrame: Int, gapMs: Double, reason: String)
}

/// Coordinates an audio input, the app audio session and outputs (`AVCaptureSession`).
///
/// Threading: every call may come from any thread, and every property is behind the session's
/// locks. Configuration, start, stop and route re-negotiation run on the session's own serial
/// queue; `startRunning`/`stopRunning`/`commitConfiguration` wait for it (opening hardware can
/// take hundreds of milliseconds: not from the UI thread in a tight loop).
///
/// Events are delivered on the session's event queue (`capdeck.session.events`, serial), in the
/// order they happened, after the step that caused them has finished: a handler may call any
/// method of the session, including `stopRunning()` and `startRunning()` from inside
/// `didStartRunning`, and never re-enters a half-done one. Called from outside a handler,
/// `startRunning`, `stopRunning`, `commitConfiguration` and the property setters return after
/// the events they caused have been delivered; called from a handler, they return without
/// waiting (the events follow the current one).
///
/// Inputs and outputs may be added and removed while running, as Apple allows (see `addOutput`,
/// `removeOutput`, `addInput`, `removeInput`); each change is made on the session queue and is in
/// effect when the call returns.
///
/// `@unchecked Sendable`: its state is behind `config` and `runState` (mutexes); the retry timer
/// and the current run's outputs are the session queue's alone (`QueueBound`); the rest is
/// immutable after init.
public final class CaptureSession: @unchecked Sendable {
    // MARK: The four audio-session properties (Apple's defaults)

    public var usesApplicationAudioSession: Bool {
        get { properties.usesApplicationAudioSession }
        set { setProperty(.usesAppSession, newValue) }
    }
    public var automaticallyConfiguresApplicationAudioSession: Bool {
        get { properties.automaticallyConfiguresApplicationAudioSession }
        set { setProperty(.autoConfigure, newValue) }
    }
    public var configuresApplicationAudioSessionToMixWithOthers: Bool {
        get { properties.configuresApplicationAudioSessionToMixWithOthers }
        set { setProperty(.mixWithOthers, newValue) }
    }
    public var configuresApplicationAudioSessionForBluetoothHighQualityRecording: Bool {
        get { properties.configuresApplicationAudioSessionForBluetoothHighQualityRecording }
        set { setProperty(.bluetoothHQ, newValue) }
    }

    /// All four at once.
    public var properties: AudioSessionProperties { config.withLock { $0.pending } }

    /// The application audio session this capture session uses (when `usesApplicationAudioSession`).
    public let applicationAudioSession: ApplicationAudioSession

    // MARK: State

    public var isRunning: Bool { runState.withLock { $0.isRunning } }
    public var isInterrupted: Bool { runState.withLock { $0.isInterrupted } }
    /// Frames captured since the session last started, across reconnections to a lost device.
    public var framesCaptured: Int { runState.withLock { $0.endedFrames + ($0.engine?.framesCaptured ?? 0) } }
    /// Why the session is interrupted (nil when it isn't).
    public var interruptionReason: InterruptionReason? { runState.withLock { $0.interruptionReason } }
    /// The route being captured (nil when not running).
    public var currentRoute: Route? { runState.withLock { $0.route } }
    /// How the current combination resolves (for display: effective states and notes).
    public var resolution: RouteResolution? { runState.withLock { $0.resolution } }
    /// The engine's meters (valid while running; persists across route changes).
    public let meterBoard = MeterBoard()
    /// The running engine, for statistics (frames, xruns, real-time status, granted parameters).
    public var engine: CaptureEngine? { runState.withLock { $0.engine } }
    /// Device overruns and suspends over the session's life: every engine it ran, including ones
    /// that have ended (by a stop, a lost device or a full disk), so a count read after the end
    /// is complete.
    public var xrunCount: Int { runState.withLock { $0.endedXruns + ($0.engine?.xrunCount ?? 0) } }

    public private(set) var inputs: [CaptureDeviceInput] {
        get { config.withLock { $0.inputs } }
        set { config.withLock { $0.inputs = newValue } }
    }
    public private(set) var outputs: [any CaptureOutput] {
        get { config.withLock { $0.outputs } }
        set { config.withLock { $0.outputs = newValue } }
    }

    /// SCHED_FIFO priority for the capture thread (nil: normal scheduling). Taken at each start.
    public var realtimePriority: Int32? {
        get { config.withLock { $0.realtimePriority } }
        set { config.withLock { $0.realtimePriority = newValue } }
    }
    /// CaptureDeck extension: stop by itself after this many frames of the session's stream
    /// (device audio plus gap silence) since it started, across reconnections to a lost device,
    /// like arecord's -d. nil: until stopped. Taken at each start.
    public var maxFrames: Int? {
        get { config.withLock { $0.maxFrames } }
        set { config.withLock { $0.maxFrames = newValue } }
    }
    /// CaptureDeck extension: how much audio gathers before the outputs (files, data outputs,
    /// loudness) and the level meters get it, in seconds (at most a quarter of the engine's 2 s
    /// ring; 0: every device period). Each batch is one wake-up of the writer thread, about 85 µs
    /// of CPU whatever it carries, so batches longer than the device period save CPU: at 100 ms
    /// periods, 250 ms batches take the writer from 1.2 to 0.5 ms of CPU a second. What they cost
    /// is crash safety: a process killed outright loses the audio its ring held, up to a batch and
    /// a period (`kill -9` at random moments lost at most 86 ms with the default, 296 ms with 250 ms
    /// batches), so `capdeck record` keeps the default. 20 ms keeps a 30 fps meter and a data
    /// output's delegate fresh. A marker and the end of capture still wake the writer at once.
    /// Taken at each start.
    public var outputBatchSeconds: Double {
        get { config.withLock { $0.outputBatchSeconds } }
        set { config.withLock { $0.outputBatchSeconds = newValue } }
    }
    /// How often an interrupted session retries the device (from the next interruption on).
    public var interruptionRetryInterval: DispatchTimeInterval {
        get { config.withLock { $0.interruptionRetryInterval } }
        set { config.withLock { $0.interruptionRetryInterval = newValue } }
    }
    /// CaptureDeck extension: when the device is lost mid-capture, report the `runtimeError`,
    /// then stay interrupted (`audioDeviceDisconnected`) and reopen the route when it comes back;
    /// file outputs keep recording into the same file, with the gap marked. Off: a lost device
    /// stops the session (Apple's behaviour).
    public var reconnectsLostDevices: Bool {
        get { config.withLock { $0.reconnectsLostDevices } }
        set { config.withLock { $0.reconnectsLostDevices = newValue } }
    }

    private struct Config {
        var pending = AudioSessionProperties()
        var inputs: [CaptureDeviceInput] = []
        var outputs: [any CaptureOutput] = []
        var depth = 0
        var realtimePriority: Int32? = 70
        var maxFrames: Int?
        var outputBatchSeconds = 0.02
        var interruptionRetryInterval: DispatchTimeInterval = .milliseconds(250)
        var reconnectsLostDevices = true
    }
    private let config = Mutex(Config())
    /// The run state machine (`SessionRunState`); transitions happen on the session queue.
    private let runState = Mutex(SessionRunState<CaptureEngine>())
    private let queue = DispatchQueue(label: "capdeck.session")
    private let onQueue = DispatchSpecificKey<Bool>()
    private let subscribers = Broadcaster<CaptureSessionEvent>()
    /// Where handlers run (see the type's note): serial, fed only from the session queue, so in
    /// the order events happened.
    private let eventQueue = DispatchQueue(label: "capdeck.session.events")
    private let onEventQueue = DispatchSpecificKey<Bool>()
    /// The session queue's alone.
    private let retryTimer: QueueBound<(any RetryTimer)?>
    /// The running engine's fan-out (what its writer feeds) and the input it captures: set when
    /// an engine starts, cleared when it ends. The session queue's alone.
    private let run: QueueBound<(fan: OutputFanOut, input: CaptureDeviceInput)?>
    private let retryClock: any RetryClock

    public convenience init(applicationAudioSession: ApplicationAudioSession = ApplicationAudioSession()) {
        self.init(applicationAudioSession: applicationAudioSession, retryClock: DispatchRetryClock())
    }

    /// With the retry timer's clock given (tests drive it by hand).
    init(applicationAudioSession: ApplicationAudioSession, retryClock: any RetryClock) {
        self.retryClock = retryClock
        retryTimer = QueueBound(nil, queue: queue)
        run = QueueBound(nil, queue: queue)
        self.applicationAudioSession = applicationAudioSession
        queue.setSpecific(key: onQueue, value: true)
        eventQueue.setSpecific(key: onEventQueue, value: true)
    }

    // MARK: Inputs and outputs

    public func canAddInput(_ input: CaptureDeviceInput) -> Bool { inputs.isEmpty }

    /// Adds the session's input. While running, outside a configuration batch, it takes effect at
    /// once: a session running without input (its input was removed) starts capturing it,
    /// announced as a `routeChanged` from no route. Inside a batch, at the outermost commit.
    public func addInput(_ input: CaptureDeviceInput) {
        precondition(canAddInput(input), "a CaptureSession takes one audio input")
        changeInputs { $0.append(input) }
    }

    /// Removes the input. Replacing it while running — `removeInput` and `addInput` inside
    /// `beginConfiguration`/`commitConfiguration` — switches capture to the new input at the
    /// commit: like a route change (`CaptureEngine.switchDevice`: one continuous stream, files
    /// keep recording) when its format is the running one's; otherwise the old capture stops and
    /// the new one starts in the new format (file outputs follow their format rules: one holding
    /// frames in the old format stops with `formatMismatch`), announced as a `routeChanged`.
    ///
    /// Removing the only input of a running session (outside a batch, or committed without a new
    /// one) leaves the session running, as Apple's does (`isRunning` stays true, no
    /// `didStopRunning`), capturing and delivering nothing; file outputs keep their recording
    /// open. An input added later is captured from then on (the stream's positions carry on; the
    /// time without input is not in it). While interrupted with nothing captured (a device lost or
    /// busy), removing the input ends the interruption; an input added later is started, with
    /// `didStartRunning`.
    public func removeInput(_ input: CaptureDeviceInput) { changeInputs { $0.removeAll { $0 === input } } }

    private func changeInputs(_ change: (inout [CaptureDeviceInput]) -> Void) {
        let inBatch = config.withLock { c -> Bool in
            change(&c.inputs)
            return c.depth > 0
        }
        if !inBatch {
            onSessionQueue { self.applyConfiguration() }
            awaitEvents()
        }
    }

    public func canAddOutput(_ output: any CaptureOutput) -> Bool { !outputs.contains { $0 === output } }

    /// Adds an output. While running, it receives frames from the running engine's next writer
    /// batch on, in the session's format (a file output takes it, as before a run; a recording
    /// started on it records), and from every later run.
    public func addOutput(_ output: any CaptureOutput) {
        precondition(canAddOutput(output), "output already added")
        onSessionQueue {
            let added = self.config.withLock { c -> Bool in
                guard !c.outputs.contains(where: { $0 === output }) else { return false }
                c.outputs.append(output)
                return true
            }
            guard added, let r = self.run.value else { return }
            if let f = output as? CaptureAudioFileOutput {
                do throws(RecordingError) { try f.setSessionFormat(r.fan.format) } catch { self.emit(.runtimeError(.recording(error))) }
            }
            r.fan.add(output)
        }
        awaitEvents()
    }

    /// Removes an output. When it returns, the output gets nothing more: a delivery to it in
    /// progress on the writer queue has ended (the wait is at most one writer batch), and a data
    /// output calls its handler no more (a call already running may finish). A file output keeps
    /// its recording open (stop it as usual).
    public func removeOutput(_ output: any CaptureOutput) {
        onSessionQueue {
            self.config.withLock { $0.outputs.removeAll { $0 === output } }
            if let r = self.run.value {
                r.fan.remove(output)
            } else {
                (output as? any StreamReceiver)?.sessionDidStop()
            }
        }
    }

    // MARK: Configuration

    /// Starts a batch of changes; nestable. Changes apply atomically at the outermost commit.
    public func beginConfiguration() { config.withLock { $0.depth += 1 } }

    /// Ends a batch; at the outermost commit, applies every change at once (re-negotiating the
    /// device while running if the route changed). Waits for the session queue.
    public func commitConfiguration() {
        let outermost = config.withLock { c -> Bool in
            precondition(c.depth > 0, "commitConfiguration without beginConfiguration")
            c.depth -= 1
            return c.depth == 0
        }
        if outermost { onSessionQueue { self.applyConfiguration() } }
        awaitEvents()
    }

    private func setProperty(_ key: AudioSessionProperties.Key, _ value: Bool) {
        let inBatch = config.withLock { c -> Bool in
            c.pending[key] = value
            return c.depth > 0
        }
        if !inBatch {
            onSessionQueue { self.applyConfiguration() }
            awaitEvents()
        }
    }

    /// Sets all four properties in one atomic change.
    public func setProperties(_ p: AudioSessionProperties) {
        beginConfiguration()
        config.withLock { $0.pending = p }
        commitConfiguration()
    }

    // MARK: Running

    /// Starts capture; returns once running, interrupted (device busy) or failed (reported as a
    /// `runtimeError` event). Programmer error inside begin/commitConfiguration.
    public func startRunning() {
        precondition(config.withLock { $0.depth } == 0, "startRunning() inside beginConfiguration()/commitConfiguration()")
        onSessionQueue {
            self.runState.withLock { $0.begin() }  // a fresh start (not a reconnection): maxFrames counts from here
            self.startEngine(.start)
        }
        awaitEvents()
    }

    /// Stops capture and finishes nothing else: file outputs keep their file open until
    /// `stopRecording` (or a new start continues it). Once it returns, no data output handler
    /// call starts (buffers still queued are dropped; a call already running may finish) and
    /// every `StreamReceiver` has heard `sessionDidStop`. Programmer error inside a configuration
    /// batch.
    public func stopRunning() {
        precondition(config.withLock { $0.depth } == 0, "stopRunning() inside beginConfiguration()/commitConfiguration()")
        onSessionQueue {
            self.cancelRetry()
            let (engine, wasRunning, wasInterrupted, counted) = self.runState.withLock { s -> (CaptureEngine?, Bool, Bool, Int) in
                let counted = s.engine?.xrunCount ?? 0
                let (e, running, interrupted) = s.stop()
                s.addEndedXruns(counted)
                return (e, running, interrupted, counted)
            }
            if let engine {
                engine.stop()
                _ = engine.waitUntilFinished()
                // Any xrun the final drain met.
                self.runState.withLock { $0.addEndedXruns(engine.xrunCount - counted) }
            }
            // The writer is done: data outputs call their handlers no more.
            self.endRun()
            if wasInterrupted && !wasRunning { self.emit(.interruptionEnded) }
            if wasRunning { self.emit(.didStopRunning) }
        }
        awaitEvents()
    }

    // MARK: Events

    /// Calls `handler` for every event, on the session's event queue, in order (see the type's
    /// note: it may call back into the session). Returns a token for `removeHandler`.
    @discardableResult
    public func onEvent(_ handler: @escaping @Sendable (CaptureSessionEvent) -> Void) -> Int {
        subscribers.add(handler)
    }

    public func removeHandler(_ token: Int) { subscribers.remove(token) }

    /// Every event from now on, in order (fed from the event queue).
    public var events: AsyncStream<CaptureSessionEvent> { subscribers.stream() }

    /// Queues `e` for the handlers. Called on the session queue only, so events keep its order.
    private func emit(_ e: CaptureSessionEvent) {
        assert(DispatchQueue.getSpecific(key: onQueue) == true, "events are emitted on the session queue")
        eventQueue.async { self.subscribers.send(e) }
    }

    /// Waits until the events queued so far have been delivered, unless called from a handler
    /// (which would wait for itself) or from the session queue (a handler may be waiting for it).
    private func awaitEvents() {
        guard DispatchQueue.getSpecific(key: onEventQueue) != true, DispatchQueue.getSpecific(key: onQueue) != true else { return }
        eventQueue.sync {}
    }

    // MARK: Session queue

    private func onSessionQueue(_ body: () -> Void) {
        if DispatchQueue.getSpecific(key: onQueue) == true { body() } else { queue.sync(execute: body) }
    }

    private func resolveNow() -> (RouteResolution, CaptureDeviceInput)? {
        let (p, input) = config.withLock { ($0.pending, $0.inputs.first) }
        guard let input else { return nil }
        let r = RouteResolver.resolve(p, appSession: applicationAudioSession.current, routes: input.routes)
        return (r, input)
    }

    /// Applies the automatic configuration of the app audio session, if this resolution makes one.
    private func configureAppSession(_ r: RouteResolution) {
        // Only a change is news: retries (a busy or lost device, every 250 ms) configure the
        // same session again and again.
        if r.configuredAppSession && applicationAudioSession.current != r.appSession {
            applicationAudioSession.apply(r.appSession)
            emit(.appAudioSessionConfigured(r.appSession))
        }
    }

    /// How a start follows what ran before.
    private enum StartKind {
        /// `startRunning`, a reconnection, a retry: announced with `didStartRunning`.
        case start
        /// The session is running and goes on with another engine: its input changed format, or
        /// an input was added to a session running without one (`old` nil). Announced as a
        /// `routeChanged` from `old`, whose capture ended at `since` (monotonic nanoseconds); a
        /// failure ends the running (`didStopRunning`, after the failure's own events).
        case continuing(old: Route?, since: UInt64)
    }

    private func startEngine(_ kind: StartKind) {
        var continuing: (old: Route?, since: UInt64)?
        if case .continuing(let old, let since) = kind { continuing = (old, since) }
        guard runState.withLock({ $0.engine == nil && $0.wantRunning && (continuing != nil || !$0.inputless) }) else { return }
        var started = false
        defer {
            if !started, continuing != nil {
                _ = runState.withLock { $0.inputlessStartFailed() }
                emit(.didStopRunning)
            }
        }
        guard let (r, input) = resolveNow() else {
            emit(.runtimeError(.noInput))
            return
        }
        runState.withLock { $0.resolution = r }
        let route: Route
        switch r.route {
        case .failure(let f):
            emit(.runtimeError(.cannotStart(f)))
            return
        case .success(let x):
            route = x
        }
        configureAppSession(r)
        let outputs = self.outputs
        // Each file takes the input's format before its first frame (one that already holds
        // frames in another format stops, reported).
        for f in outputs.compactMap({ $0 as? CaptureAudioFileOutput }) {
            do throws(RecordingError) { try f.setSessionFormat(input.format) } catch { emit(.runtimeError(.recording(error))) }
            f.setSessionRoute(RouteNote(route: route, format: input.format))
        }
        let endedFrames = runState.withLock { $0.endedFrames }
        let fan = OutputFanOut(format: input.format, streamPosition: endedFrames, outputs: outputs)
        let engine: CaptureEngine
        do {
            engine = try CaptureEngine(device: input.makeDevice(route),
                                       configuration: .init(request: input.request, recordingFormat: input.format,
                                                            realtimePriority: self.realtimePriority,
                                                            maxFrames: self.maxFrames.map { max(1, $0 - endedFrames) },
                                                            rateConverter: LibsamplerateConverter.factory,
                                                            channelSelection: input.channelSelection,
                                                            writerBatchSeconds: self.outputBatchSeconds),
                                       sink: fan, meterBoard: meterBoard)
            fan.clock.bind { [weak engine] in engine?.startedAtNanos ?? 0 }
        } catch {
            // The engine's wake-up pipes: a descriptor limit is the process's, not the device's.
            let e: DeviceError = error.errno.isDescriptorLimit ? .systemLimit(device: route.pcm, reason: "\(error)")
                                                               : .unavailable(device: route.pcm, reason: "\(error)")
            if reportOnceWhileWaiting() { emit(.runtimeError(.device(e))) }
            return
        }
        // A sound server that is stalled (stopped, hung) accepts the connection and then never
        // answers, and opening a PCM on it would block this queue until it resumes: ask it first,
        // with a deadline, before opening a server's PCM or reopening a route that stalled.
        if let hang = serverWouldHang(route) {
            if runState.withLock({ $0.isWaitingForLostDevice }) { return }  // still waiting; retried on the timer
            emit(.runtimeError(.device(.unavailable(device: route.pcm, reason: hang))))
            return
        }
        do throws(DeviceError) {
            let granted = try engine.start()
            let (wasInterrupted, lostAt, stalled) = runState.withLock { $0.started(engine, on: route) }
            started = true
            run.value = (fan, input)
            cancelRetry()
            engine.onFinished { [weak self] summary in self?.engineEnded(engine, summary) }
            if let lostAt {
                let gapMs = Double(monotonicNanos() - lostAt) / 1e6
                if stalled {
                    engine.addMarker(atFrame: 0, label: "device delivering again after \(Int(gapMs.rounded())) ms: \(route.pcm) had stalled")
                    emit(.gap(atFrame: 0, gapMs: gapMs, reason: "\(route.pcm) had stalled (delivered nothing) and delivers again"))
                } else {
                    engine.addMarker(atFrame: 0, label: "device back after \(Int(gapMs.rounded())) ms: \(route.pcm) was lost")
                    emit(.gap(atFrame: 0, gapMs: gapMs, reason: "\(route.pcm) was lost and is back"))
                }
            }
            if wasInterrupted { emit(.interruptionEnded) }
            if let continuing {
                let gapMs = Double(monotonicNanos() - continuing.since) / 1e6
                let from = continuing.old.map { "\($0.pcm)" } ?? "no input"
                engine.addMarker(atFrame: 0, label: "input: \(from) -> \(input.name) (\(route.pcm), \(Int(gapMs.rounded())) ms without capture)",
                                 route: RouteNote(route: route, format: granted.format))
                emit(.routeChanged(RouteChange(old: continuing.old, new: route, granted: granted, gapMs: gapMs, gapFrames: 0,
                                               atFrame: endedFrames)))
            } else {
                emit(.didStartRunning(route, granted))
            }
        } catch {
            // Waiting for a lost device: "not there" is expected until it is back; anything
            // else (busy, a format it no longer gives) is said once, and the wait goes on.
            if runState.withLock({ $0.isWaitingForLostDevice }) {
                switch error {
                case .notFound, .lost: break
                default: if reportOnceWhileWaiting() { emit(.runtimeError(.device(error))) }
                }
                return
            }
            if case .busy = error {
                interrupt(wanting: route)
            } else {
                emit(.runtimeError(.device(error)))
            }
        }
    }

    /// Why opening `route` now would block on a sound server that doesn't answer, or nil. Asked
    /// only where a server is configured, and only for a server's PCM or a route that stalled.
    private func serverWouldHang(_ route: Route) -> String? {
        let stalled = runState.withLock { $0.isWaitingForStalledDevice }
        guard stalled || DeviceCatalog.accessKind(forPCM: route.pcm) == .soundServer,
              SoundServerProbe.expected() != nil else { return nil }
        if case .failure(.timedOut(let ms)) = PulseControl.serverInfo(timeoutMs: 500) {
            return "the sound server did not answer within \(ms) ms (stalled or stopped)"
        }
        return nil
    }

    /// While waiting for a lost device: true the first time only. Otherwise (not waiting): true.
    private func reportOnceWhileWaiting() -> Bool { runState.withLock { $0.reportOnceWhileWaiting() } }

    private func interrupt(wanting route: Route) {
        let first = runState.withLock { $0.busy(wanting: route) }
        if first { emit(.wasInterrupted(.audioDeviceInUseByAnotherClient, wanted: route)) }
        scheduleRetry()
    }

    private func scheduleRetry() {
        guard retryTimer.value == nil else { return }
        retryTimer.value = retryClock.every(interruptionRetryInterval, on: queue) { [weak self] in self?.retry() }
    }

    private func cancelRetry() {
        retryTimer.value?.cancel()
        retryTimer.value = nil
    }

    private func retry() {
        guard !inputs.isEmpty else { return }  // removed while waiting: the next tick after one is added
        if runState.withLock({ $0.engine == nil }) {
            startEngine(.start)
        } else {
            applyConfiguration(isRetry: true)
        }
    }

    /// Re-resolves and, while running, switches the device if the route changed. `isRetry`: the
    /// retry timer's attempt at a route that was busy (not a change the user made).
    private func applyConfiguration(isRetry: Bool = false) {
        guard let (r, input) = resolveNow() else {
            removeRunningInput()
            return
        }
        let (engine, current, inputless, since, awaiting) = runState.withLock { s -> (CaptureEngine?, Route?, Bool, UInt64, Bool) in
            s.resolution = r
            return (s.engine, s.route, s.inputless, s.inputlessSince, s.awaitingInput)
        }
        if inputless {
            startEngine(.continuing(old: nil, since: since))
            return
        }
        if awaiting {
            startEngine(.start)
            return
        }
        guard let engine, engine.isCapturing, let current else { return }
        // Another input than the engine captures (replaced inside a batch): in another format,
        // the engine can't take it (its ring, meters and files are in the old one): start anew.
        let replaced = run.value.map { $0.input !== input } ?? false
        if replaced && (input.format != engine.configuration.recordingFormat || input.channelSelection != engine.configuration.channelSelection) {
            restart(engine, from: current)
            return
        }
        configureAppSession(r)
        guard case .success(let wanted) = r.route else {
            if case .failure(let f) = r.route { emit(.runtimeError(.cannotStart(f))) }
            return
        }
        guard wanted != current || replaced else {
            // Back on the route we have: any interruption for another route is over.
            if runState.withLock({ $0.settledOnCurrentRoute() }) {
                cancelRetry()
                emit(.interruptionEnded)
            }
            return
        }
        if wanted.pcm == current.pcm && !replaced {
            // Same PCM, another kind of route (an input whose routes are all one device):
            // nothing to re-open.
            _ = runState.withLock { $0.switched(to: wanted) }
            if let g = engine.granted {
                // Marked as a switch between PCMs is (the coding history names the new kind of
                // route from here, for the parts after a split too).
                let at = engine.framesCaptured
                markRouteChange(engine, from: current, to: wanted, atFrame: at, gapMs: 0, format: g.format)
                emit(.routeChanged(RouteChange(old: current, new: wanted, granted: g, gapMs: 0, gapFrames: 0, atFrame: at)))
            }
            return
        }
        // The new device is opened beside the current one. Only when both are views of the same
        // hardware (hw/plughw/dsnoop of one card) may a busy new device mean our own hold, and
        // only then is the current device closed first, which costs a gap. Never while another
        // program holds the wanted view (the kernel's and CaptureDeck's records of who holds it
        // say so): the working route goes on without a glitch until it frees. When that can't be
        // told, only when the user asks (a first attempt), not on every retry.
        let shares = wanted.sharesHardware(with: current)
        // A new input on the PCM being captured can only open once the old one is closed, and the
        // hold on it is ours.
        let samePCM = replaced && wanted.pcm == current.pcm
        let allowCloseFirst = samePCM || CloseFirstRule.allows(sharesHardware: shares,
                                                               heldByAnother: shares ? input.heldByAnotherProgram(wanted) : nil,
                                                               userAsked: !isRetry || runState.withLock { $0.wanted != wanted })
        do throws(DeviceError) {
            let report = try engine.switchDevice(to: input.makeDevice(wanted), request: input.request,
                                                 allowCloseFirst: allowCloseFirst)
            let wasInterrupted = runState.withLock { $0.switched(to: wanted) }
            if let r = run.value { run.value = (r.fan, input) }
            cancelRetry()
            markRouteChange(engine, from: current, to: wanted, atFrame: report.atFrame, gapMs: report.gapMs, format: report.granted.format)
            if wasInterrupted { emit(.interruptionEnded) }
            emit(.routeChanged(RouteChange(old: current, new: wanted, granted: report.granted, gapMs: report.gapMs,
                                           gapFrames: report.gapFrames, atFrame: report.atFrame)))
        } catch {
            if let g = engine.lastFailedSwitchGap, g.gapFrames > 0 {
                engine.addMarker(atFrame: g.atFrame, label: "gap \(Int(g.gapMs.rounded())) ms: \(wanted.pcm) could not be opened")
                emit(.gap(atFrame: g.atFrame, gapMs: g.gapMs, reason: "\(wanted.pcm) could not be opened: \(error)"))
            }
            if case .busy = error {
                interrupt(wanting: wanted)
            } else {
                emit(.runtimeError(.device(error)))
            }
        }
    }

    /// A route change's cue in the take, and the coding-history line for the new route from
    /// `atFrame` on (for a switch between PCMs, and a change of kind on one).
    private func markRouteChange(_ engine: CaptureEngine, from old: Route, to new: Route, atFrame: Int, gapMs: Double, format: StreamFormat) {
        engine.addMarker(atFrame: atFrame, label: "route: \(old.pcm) -> \(new.pcm) (gap \(Int(gapMs.rounded())) ms)",
                         route: RouteNote(route: new, format: format))
    }

    /// The running engine's writer is done: its receivers hear it (data outputs call their
    /// handlers no more), and outputs added from now on wait for the next run.
    private func endRun(continuing: Bool = false) {
        run.value?.fan.sessionDidStop(continuing: continuing)
        run.value = nil
    }

    /// The input was removed (no input left): stop capturing and go on running without input
    /// (see `removeInput`), or, while interrupted, stop waiting.
    private func removeRunningInput() {
        let engine = runState.withLock { $0.engine }
        // An engine that has just ended by itself (its length reached, its device lost) is the
        // end's to report; a reconnection's retries wait for an input.
        if let engine, !engine.isCapturing { return }
        cancelRetry()
        var summary: CaptureSummary?
        if let engine {
            engine.stop()
            summary = engine.waitUntilFinished()
        }
        endRun(continuing: true)
        let (wasInterrupted, _) = runState.withLock {
            $0.inputRemoved(engine, frames: summary?.framesCaptured ?? 0, xruns: summary?.xruns ?? 0, now: monotonicNanos())
        }
        if wasInterrupted { emit(.interruptionEnded) }
    }

    /// The input was replaced by one in another format: stop this engine and start one for it,
    /// the stream's positions and counts carrying on.
    private func restart(_ engine: CaptureEngine, from current: Route) {
        cancelRetry()
        engine.stop()
        let summary = engine.waitUntilFinished()
        endRun(continuing: true)
        guard runState.withLock({ $0.replacing(engine, frames: summary.framesCaptured, xruns: summary.xruns) }) != nil else { return }
        startEngine(.continuing(old: current, since: monotonicNanos()))
    }

    private func engineEnded(_ engine: CaptureEngine, _ summary: CaptureSummary) {
        queue.async {
            var lost = false
            if case .deviceLost = summary.endReason { lost = true }
            let reconnects = self.reconnectsLostDevices
            var stalledFor: Double?
            if case .deviceLost(.stalled(_, let seconds)) = summary.endReason { stalledFor = seconds }
            guard let (waitFor, _) = self.runState.withLock({
                $0.ended(engine, frames: summary.framesCaptured, xruns: summary.xruns, lost: lost, stalledFor: stalledFor,
                         reconnects: reconnects, now: monotonicNanos())
            }) else { return }
            self.endRun()
            switch summary.endReason {
            case .deviceLost(let e): self.emit(.runtimeError(.device(e)))
            case .writeFailed(let e): self.emit(.runtimeError(.recording(e)))
            case .stopped, .durationReached: break
            }
            self.emit(.didStopRunning)
            if let waitFor {
                let stalled = self.runState.withLock { $0.isWaitingForStalledDevice }
                self.emit(.wasInterrupted(stalled ? .audioDeviceStalled : .audioDeviceDisconnected, wanted: waitFor))
                self.scheduleRetry()
            }
        }
    }
}
