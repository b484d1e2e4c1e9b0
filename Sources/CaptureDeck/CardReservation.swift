// Mix off takes the card when the server holds it (issue 9). An exclusive route whose PCM is a
// card view (`hw:N`, `plughw:N`, `hw:CARD=ID,...`) is opened through `ReservedCardSource`: before
// the ALSA open it reserves card N with the D-Bus device reservation protocol (as JACK does), so a
// sound server that holds the card (PulseAudio, PipeWire) lets go of it; after the close it gives
// the reservation back and the server takes its card again. Without a session bus the route opens
// as it always did. Acquire and release are D-Bus calls with a deadline on the opening and closing
// thread (the session's, never the capture thread); read and waitForData pass straight through.
import CaptureALSA
import CaptureCore
import CaptureDBus
import Synchronization

/// Who held each card at our last attempt, when it was a program that won't give it up (JACK,
/// another recorder) or didn't answer: the session then knows, without opening anything, that the
/// wanted view is held by another program and doesn't close its working view to try.
public enum CardReservations {
    private static let heldByOther = Mutex<[Int: String]>([:])
    static func noteHeld(card: Int, by holder: String?) {
        heldByOther.withLock { $0[card] = holder }
    }
    static func holder(ofCard card: Int) -> String? { heldByOther.withLock { $0[card] } }

    /// The cards this process holds a reservation of now.
    private static let ours = Mutex<Set<Int>>([])
    static func noteOurs(_ card: Int, _ held: Bool) { ours.withLock { if held { $0.insert(card) } else { $0.remove(card) } } }
    public static var reservedByUs: [Int] { ours.withLock { $0.sorted() } }
}

/// How a reservation failure reads as a device error.
func deviceError(_ e: ReservationError, pcm: String) -> DeviceError? {
    switch e {
    case .noBus:
        return nil  // no desktop bus: nothing to reserve, open as before
    case .refused(let holder):
        if soundServerName(holder) {
            return .unavailable(device: pcm, reason: "the sound server (\(holder)) refused to release the card")
        }
        return .busy(device: pcm)
    case .notAnswering:
        return .busy(device: pcm)
    case .failed(let m):
        return .unavailable(device: pcm, reason: "the card's reservation failed: \(m)")
    }
}

func soundServerName(_ holder: String) -> Bool {
    let h = holder.lowercased()
    return h.contains("pulseaudio") || h.contains("pipewire")
}

/// An ALSA card view opened under a D-Bus reservation of its card.
final class ReservedCardSource: CaptureSource, @unchecked Sendable {  // open/close on one control thread at a time; the capture path touches only `inner`
    let inner: ALSACaptureSource
    let card: Int
    let timeoutMs: Int
    private let reservation = Mutex<DeviceReservation?>(nil)

    init(inner: ALSACaptureSource, card: Int, timeoutMs: Int = 1000) {
        self.inner = inner
        self.card = card
        self.timeoutMs = timeoutMs
    }

    var name: String { inner.name }
    var accessKind: AccessKind { inner.accessKind }
    var displayName: String { inner.displayName }

    func open(_ request: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        if reservation.withLock({ $0 == nil }) {
            do throws(ReservationError) {
                let r = try DeviceReservation.acquire(card: card, applicationName: "CaptureDeck", deviceName: inner.name,
                                                      timeoutMs: timeoutMs)
                CardReservations.noteHeld(card: card, by: nil)
                CardReservations.noteOurs(card, true)
                reservation.withLock { $0 = r }
            } catch {
                switch error {
                case .refused(let h) where !soundServerName(h): CardReservations.noteHeld(card: card, by: h)
                case .notAnswering(let h, _): CardReservations.noteHeld(card: card, by: h)
                default: CardReservations.noteHeld(card: card, by: nil)
                }
                if let e = deviceError(error, pcm: inner.name) { throw e }
            }
        }
        do throws(DeviceError) {
            return try inner.open(request)
        } catch {
            releaseReservation()
            throw error
        }
    }

    func start() throws(DeviceError) { try inner.start() }
    func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead { inner.read(into: buffer, frames: frames) }
    func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait { inner.waitForData(wakeFD: wakeFD, timeoutMs: timeoutMs) }

    func close() {
        inner.close()
        releaseReservation()
    }

    private func releaseReservation() {
        let r = reservation.withLock { r -> DeviceReservation? in defer { r = nil }; return r }
        if let r {
            r.release()
            CardReservations.noteOurs(card, false)
        }
    }
}

extension CaptureDeviceInput {
    /// Whether another program holds `route`'s PCM, told without opening it: the card's
    /// reservation (at our last attempt, or asked on the bus: a holder that is not a sound server,
    /// like JACK or another recorder, or one that doesn't answer), then the kernel's and
    /// CaptureDeck's own records (`DeviceCatalog.heldByAnotherProgram`). nil: can't tell.
    func heldByAnotherProgram(_ route: Route) -> Bool? {
        if route.kind == .exclusive, let card = DeviceCatalog.cardIndex(forExclusivePCM: route.pcm) {
            if CardReservations.holder(ofCard: card) != nil { return true }
            // Not tried yet: ask the bus who holds the reservation (a sound server will let go).
            do throws(ReservationError) {
                if let h = try DeviceReservation.holder(card: card), !soundServerName(h) { return true }
            } catch {
                if case .notAnswering = error { return true }
            }
        }
        return DeviceCatalog.heldByAnotherProgram(pcm: route.pcm)
    }
}
