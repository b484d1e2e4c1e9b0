// Switching the device while capturing (route re-negotiation): the session thread's side
// (`switchDevice`: opens, closes and releases every device) and the capture queue's side
// (`performSwitch`: starts, drains and flushes), which take turns through `PendingSwitch`.
import Dispatch
import Glibc
import Synchronization

extension CaptureEngine {
    /// Switches capture to `newDevice` while running, keeping the recording going in the same
    /// ring and file, in the same format. The new device is opened first while the old one keeps
    /// capturing; if it is busy (the same hardware), the old one is closed first. The time
    /// between the old device's last frame and the new one's first is filled with silence, so the
    /// recording's duration keeps matching the wall clock.
    ///
    /// On failure capture carries on from the old device (reopened if it had to be closed) and
    /// the error is thrown. Blocking; call from one control thread (the session queue).
    ///
    /// - Parameter allowCloseFirst: when the new device is busy, whether to try again after
    ///   closing the old one (right when the old one is what holds it, as `hw` and `dsnoop` of
    ///   one card; it costs a gap if someone else holds it). A failed close-first attempt leaves
    ///   its gap in `lastFailedSwitchGap`.
    public func switchDevice(to newDevice: any CaptureSource, request: CaptureRequest? = nil,
                             allowCloseFirst: Bool = true) throws(DeviceError) -> DeviceSwitchReport {
        let req = request ?? configuration.request
        switchLock.wait()
        defer { switchLock.signal() }
        failedSwitchGap.withLock { $0 = nil }
        guard isCapturing else { throw .unavailable(device: newDevice.name, reason: "capture is not running") }
        var prepared: DeviceBinding?
        do throws(DeviceError) {
            prepared = try DeviceBinding(device: newDevice, request: req, target: configuration.ringFormat, rateConverter: configuration.rateConverter,
                                         exactChannels: configuration.channelSelection != nil)
        } catch {
            // Busy may be our own hold on the same hardware: retry after closing the old device.
            guard case .busy = error, allowCloseFirst else { throw error }
        }
        let pending = PendingSwitch(device: newDevice, request: req, prepared: prepared)
        pendingSwitch = pending
        switchRequested.store(true, ordering: .releasing)
        wake.ring()
        // Serve the capture queue's requests (every device is opened and closed here, on this
        // thread, never at SCHED_FIFO) until it answers; if capture ended before it took the
        // switch, nobody will: take it back.
        served: while true {
            if pending.toSession.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
                if captureEnded.load(ordering: .acquiring) && switchRequested.exchange(false, ordering: .acquiring) {
                    pending.finish(.unavailable(device: newDevice.name, reason: "capture ended during the switch"))
                    break served
                }
                continue
            }
            switch pending.message {
            case .finished: break served
            case .openNew: pending.answer = pending.open(newDevice, req, target: configuration.ringFormat, configuration.rateConverter, exactChannels: configuration.channelSelection != nil)
            case .reopen(let old): pending.answer = pending.open(old.device, old.request, target: configuration.ringFormat, configuration.rateConverter, exactChannels: configuration.channelSelection != nil)
            case nil: break
            }
            pending.message = nil
            pending.toCapture.signal()
        }
        pendingSwitch = nil
        // Everything the capture queue let go of is closed and released here, off the capture queue.
        pending.releaseRetired()
        if let e = pending.error {
            failedSwitchGap.withLock { $0 = pending.report }
            throw e
        }
        let report = pending.report!
        state.withLock { $0.granted = report.granted; $0.device = newDevice }
        return report
    }

    /// Moves capture from the current device to the pending switch's. Runs on the capture queue,
    /// which only reads, starts and drains devices here: every open, close and release happens on
    /// the switching (session) thread, which this asks and waits for — so no helper thread a
    /// device starts (the pulse plugin's mainloop) inherits SCHED_FIFO, and no binding is freed
    /// at real-time priority.
    ///
    /// - Opened beside (the usual case): the old device keeps running while the new one starts;
    ///   if the new one fails to start, capture simply stays on the old one (no gap).
    /// - Close first (same hardware): the old device is drained and closed, the new one opened
    ///   and started; if that fails, it is closed and the old one reopened, and the time without a
    ///   device is silence. If even the old one can't be reopened, capture ends with that error
    ///   (`deviceLost`), so the session reconnects instead of taking it for a stop.
    ///
    /// Returns the error that ends capture, or nil to carry on.
    func performSwitch(_ run: EngineRun) -> DeviceError? {
        guard switchRequested.exchange(false, ordering: .acquiring), let p = pendingSwitch else { return nil }
        let failure = switchBody(run, p)
        // Every local reference to a binding is gone by now: the switching thread releases them.
        p.finish(nil)
        return failure
    }

    func switchBody(_ run: EngineRun, _ p: PendingSwitch) -> DeviceError? {
        let old = run.binding
        if let prepared = p.prepared {
            // 1. Opened beside: start the new device while the old one keeps capturing, then take
            // what the old one still holds (and its converter's tail). Their audio meets with no
            // gap, so no silence is written.
            do throws(DeviceError) {
                try prepared.device.start()
            } catch {
                // The old device never stopped capturing: carry on with it, nothing lost.
                p.retire(prepared)
                p.error = error
                return nil
            }
            drainAvailable(run, old)
            flushResampler(run, old)
            let atFrame = capturedFrames.load(ordering: .relaxed)
            run.binding = prepared
            p.preparedTaken = true
            p.retire(old)
            p.report = DeviceSwitchReport(device: prepared.device.name, granted: prepared.granted, atFrame: atFrame,
                                          gapFrames: 0, gapNanos: 0)
            return nil
        }
        // Keep every frame the old device already captured, and what its converter holds.
        drainAvailable(run, old)
        flushResampler(run, old)
        let atFrame = capturedFrames.load(ordering: .relaxed)
        // 2. Close first: the switching thread closes the old device and opens the new one.
        let stopped = monotonicNanos()
        p.retire(old)
        var next: DeviceBinding?
        var error: DeviceError?
        switch p.ask(.openNew) {
        case .success(let b):
            do throws(DeviceError) {
                try b.device.start()
                next = b
            } catch let e {
                p.retire(b)
                error = e
            }
        case .failure(let e):
            error = e
        }
        if let next {
            let started = monotonicNanos()
            let gapFrames = fillSilence(run, nanos: started - stopped)
            run.binding = next
            p.report = DeviceSwitchReport(device: next.device.name, granted: next.granted, atFrame: atFrame,
                                          gapFrames: gapFrames, gapNanos: started - stopped)
            return nil
        }
        // 3. The new device failed: back to the old one, with the time in between as silence.
        p.error = error
        switch p.ask(.reopen(old)) {
        case .success(let again):
            run.binding = again
            do throws(DeviceError) {
                try again.device.start()
            } catch let e {
                return e  // captureEntry closes it
            }
            let gapNanos = monotonicNanos() - stopped
            let gapFrames = fillSilence(run, nanos: gapNanos)
            p.report = DeviceSwitchReport(device: old.device.name, granted: again.granted, atFrame: atFrame,
                                          gapFrames: gapFrames, gapNanos: gapNanos)
            return nil
        case .failure(let e):
            return e
        }
    }
}

/// A device switch in flight between `switchDevice` (the switching thread) and the capture queue.
/// The two take turns: the capture queue posts a message and waits on `toCapture`; the switching
/// thread waits on `toSession`, acts, and signals back. The semaphores order every access.
/// `@unchecked Sendable`: for that reason: the two sides never touch it at the same time.
final class PendingSwitch: @unchecked Sendable {
    enum Message {
        /// Close-first: open the new device (the old one is already retired).
        case openNew
        /// Open this device again, as it was (the new one failed).
        case reopen(DeviceBinding)
        /// The switch is over (`report`/`error` say how).
        case finished
    }
    let device: any CaptureSource
    let request: CaptureRequest
    let prepared: DeviceBinding?
    let toSession = DispatchSemaphore(value: 0)
    let toCapture = DispatchSemaphore(value: 0)
    var message: Message?
    var answer: Result<DeviceBinding, DeviceError>?
    var report: DeviceSwitchReport?
    var error: DeviceError?
    /// Bindings the capture queue is done with, closed and released by the switching thread.
    var retired: [DeviceBinding] = []
    /// The prepared binding became the capture queue's.
    var preparedTaken = false

    init(device: any CaptureSource, request: CaptureRequest, prepared: DeviceBinding?) {
        self.device = device
        self.request = request
        self.prepared = prepared
        // Room for what one switch can retire, so the capture queue never grows the array.
        retired.reserveCapacity(4)
    }

    /// Capture queue: hands `b` over for closing (it must not be read again).
    func retire(_ b: DeviceBinding) {
        if !retired.contains(where: { $0 === b }) { retired.append(b) }
    }

    /// Capture queue: asks the switching thread to act and waits for its answer. The retired
    /// bindings are closed first (close-first means the old device must let go of the hardware).
    func ask(_ m: Message) -> Result<DeviceBinding, DeviceError> {
        message = m
        toSession.signal()
        toCapture.wait()
        let a = answer!
        answer = nil
        return a
    }

    /// Either side, once: the switch is over.
    func finish(_ e: DeviceError?) {
        if let e { error = e }
        message = .finished
        toSession.signal()
    }

    /// Switching thread: closes what was retired, then opens `device` afresh.
    func open(_ device: any CaptureSource, _ request: CaptureRequest, target: StreamFormat,
              _ rateConverter: RateConverterFactory?, exactChannels: Bool) -> Result<DeviceBinding, DeviceError> {
        closeRetired()
        do throws(DeviceError) {
            return .success(try DeviceBinding(device: device, request: request, target: target, rateConverter: rateConverter,
                                              exactChannels: exactChannels))
        } catch {
            return .failure(error)
        }
    }

    var closedUpTo = 0
    func closeRetired() {
        while closedUpTo < retired.count {
            retired[closedUpTo].device.close()
            closedUpTo += 1
        }
    }

    /// Switching thread, after the switch: closes and releases everything the capture queue let
    /// go of, and a prepared device that never ran.
    func releaseRetired() {
        closeRetired()
        // Capture ended before it took the switch: the prepared device never ran.
        if let prepared, !preparedTaken, !retired.contains(where: { $0 === prepared }) { prepared.device.close() }
        retired.removeAll()
    }
}
