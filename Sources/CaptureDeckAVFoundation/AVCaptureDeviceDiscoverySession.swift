// AVCaptureDevice.DiscoverySession: the connected devices of some types, media type and position.
import CaptureDeck
import Foundation

extension AVCaptureDevice {
    /// Finds the connected devices of the given types (see `AVCaptureDevice.DeviceType` for what
    /// each finds on Linux), media type and position. `devices` asks again on each read (the
    /// sound server, at most half a second, and the cards), so it is current, as Apple's is.
    open class DiscoverySession: NSObject, @unchecked Sendable {
        // @unchecked Sendable: immutable.
        private let deviceTypes: [AVCaptureDevice.DeviceType]
        private let mediaType: AVMediaType?
        private let position: AVCaptureDevice.Position

        /// - Parameters:
        ///   - deviceTypes: the kinds of device to find, in the order `devices` lists them (see
        ///     `AVCaptureDevice.DeviceType` for how Linux inputs map onto them).
        ///   - mediaType: nil finds every media type; `.audio` finds the inputs; others nothing.
        ///   - position: `.unspecified` finds every position (audio inputs have none); `.front` and
        ///     `.back` find nothing.
        public init(deviceTypes: [AVCaptureDevice.DeviceType], mediaType: AVMediaType?, position: AVCaptureDevice.Position) {
            self.deviceTypes = deviceTypes
            self.mediaType = mediaType
            self.position = position
            super.init()
        }

        /// The connected devices found, in the order of `deviceTypes` (a device by the first type
        /// that finds it), then the server's sources before the cards. Never the built-in test signal.
        open var devices: [AVCaptureDevice] {
            DiscoverySession.matching(DeviceMonitor.shared.listing().devices, deviceTypes: deviceTypes,
                                      mediaType: mediaType, position: position).map(AVCaptureDevice.init(input:))
        }

        static func matching(_ devices: [InputDevice], deviceTypes: [AVCaptureDevice.DeviceType], mediaType: AVMediaType?,
                             position: AVCaptureDevice.Position) -> [InputDevice] {
            guard mediaType == nil || mediaType == .audio, position == .unspecified else { return [] }
            var out: [InputDevice] = []
            var seen = Set<String>()
            for type in deviceTypes {
                for d in devices where type.finds(d.kind) && !seen.contains(d.uniqueID) {
                    seen.insert(d.uniqueID)
                    out.append(d)
                }
            }
            return out
        }
    }
}
