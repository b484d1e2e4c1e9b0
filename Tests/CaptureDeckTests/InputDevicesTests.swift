// CaptureDeck's device list without a sound server: cards' capture devices from a directory laid
// out as /proc/asound (this machine has no sound card: no /proc/asound, no /dev/snd), the default
// when no server is configured, the test signal, and the watcher's change reports.
import CaptureALSA
import CaptureCore
@testable import CaptureDeck
@testable import CapturePulse
import Foundation
import Testing

@Suite struct InputDevicesTests {
    /// /proc/asound as the kernel lays it out for a USB headset (card 1) and an HDA card (card 0),
    /// with the texts snd-usb-audio and snd-hda-intel write.
    func procTree() throws -> String {
        let root = NSTemporaryDirectory() + "capdeck-asound-\(UUID().uuidString.prefix(8))"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/card0", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/card1", withIntermediateDirectories: true)
        try "Codec: Realtek ALC3246\nAddress: 0\nVendor Id: 0x10ec0256\n".write(toFile: root + "/card0/codec#0", atomically: false, encoding: .utf8)
        try "046d:0a44\n".write(toFile: root + "/card1/usbid", atomically: false, encoding: .utf8)
        return root
    }

    let hda = SoundCard(index: 0, id: "PCH", name: "HDA Intel PCH", longName: "HDA Intel PCH at 0xf7f10000 irq 32",
                        driver: "HDA-Intel", captureDevices: [(0, "ALC3246 Analog"), (2, "ALC3246 Alt Analog")])
    let usb = SoundCard(index: 1, id: "Headset", name: "USB Headset", longName: "Logitech USB Headset at usb-0000:00:14.0-2, full speed",
                        driver: "USB-Audio", captureDevices: [(0, "USB Audio")])
    let loop = SoundCard(index: 2, id: "Loopback", name: "Loopback", longName: "Loopback 1", driver: "Loopback",
                         captureDevices: [(0, "Loopback PCM")])
    let playbackOnly = SoundCard(index: 3, id: "HDMI", name: "HDA ATI HDMI", longName: "HDA ATI HDMI at 0xf7e60000 irq 33",
                                 driver: "HDA-Intel", captureDevices: [])

    @Test func cardDevicesCarryTheCardsIDKindModelAndVendor() throws {
        let root = try procTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let headset = InputDevices.devices(card: usb, procRoot: root)
        #expect(headset.count == 1)
        let h = try #require(headset.first)
        #expect(h.uniqueID == "alsa:CARD=Headset,DEV=0")
        #expect(h.name == "USB Headset: USB Audio")
        #expect(h.kind == .usb && h.origin == .card)
        #expect(h.modelID == "usb:046d:0a44")
        #expect(h.manufacturer == "Logitech")
        #expect(h.routes == InputRoutes(exclusive: "plughw:CARD=Headset,DEV=0", shared: "dsnoop:CARD=Headset,DEV=0"))

        let builtIn = InputDevices.devices(card: hda, procRoot: root)
        #expect(builtIn.map(\.uniqueID) == ["alsa:CARD=PCH,DEV=0", "alsa:CARD=PCH,DEV=2"])
        #expect(builtIn.allSatisfy { $0.kind == .builtIn && $0.modelID == "Realtek ALC3246" && $0.manufacturer == "Realtek" })

        let virtual = InputDevices.devices(card: loop, procRoot: root)
        #expect(virtual.first?.kind == .virtual && virtual.first?.modelID == "Loopback")
        #expect(InputDevices.devices(card: playbackOnly, procRoot: root).isEmpty)
    }

    @Test func withoutAServerTheDefaultIsTheFirstCardThatCaptures() throws {
        let root = try procTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let listing = InputDevices.listing(server: nil, cards: [playbackOnly, usb, hda], procRoot: root)
        #expect(listing.devices.map(\.uniqueID) == ["alsa:CARD=Headset,DEV=0", "alsa:CARD=PCH,DEV=0", "alsa:CARD=PCH,DEV=2"])
        #expect(listing.defaultDevice?.uniqueID == "alsa:CARD=Headset,DEV=0")
        #expect(!listing.devices.contains { $0.uniqueID == InputDevices.testSignalID })
        // A configured server that doesn't answer: no default (the server's choice is unknown), no sources.
        let down = InputDevices.listing(server: .failure(.init(reason: "gone", timedOut: false)), cards: [hda], procRoot: root)
        #expect(down.defaultDevice == nil && down.devices.count == 2 && !down.serverTimedOut)
        #expect(InputDevices.listing(server: nil, cards: [], procRoot: root).defaultDevice == nil)
    }

    @Test func serverSourcesAreClassifiedByTheirProperties() {
        func source(_ name: String, monitor: Bool = false, _ p: [String: String]) -> InputDevice {
            InputDevices.device(source: SoundServerSource(name: name, description: "d", isMonitor: monitor, sampleRate: 48000, channels: 2, properties: p))
        }
        #expect(source("alsa_input.usb-x", ["device.bus": "usb", "device.vendor.id": "0d8c", "device.product.id": "0014"]).modelID == "usb:0d8c:0014")
        #expect(source("bluez_input.00_11", ["device.bus": "bluetooth"]).kind == .bluetooth)
        #expect(source("bluez_source.00_11", [:]).kind == .bluetooth)
        #expect(source("alsa_input.pci-0000", ["device.bus": "pci", "device.product.name": "Cannon Lake"]).kind == .builtIn)
        #expect(source("alsa_output.usb-x.monitor", monitor: true, ["device.bus": "usb"]).kind == .virtual)
        #expect(source("tunnel.host", [:]).kind == .virtual)
        let mic = source("alsa_input.usb-x", ["device.bus": "usb"])
        #expect(mic.uniqueID == "pulse:alsa_input.usb-x" && mic.routes == InputRoutes(shared: "pulse:alsa_input.usb-x"))
    }

    @Test func theTestSignalIsFoundOnlyByItsID() {
        #expect(InputDevices.device(uniqueID: "builtin") == InputDevices.testSignal)
        #expect(InputDevices.testSignal.routes == InputRoutes(exclusive: "builtin", shared: "builtin"))
        #expect(!InputDevices.listing(timeoutMs: 200).devices.contains(InputDevices.testSignal))
    }

    /// What this machine's ALSA says against the kernel's own list (/proc/asound/cards), read
    /// independently: here there is none, so no card device is listed.
    @Test func cardsMatchTheKernelsList() throws {
        let kernel = (try? String(contentsOfFile: "/proc/asound/cards", encoding: .utf8)) ?? ""
        let indices = kernel.split(separator: "\n").compactMap { line -> Int? in
            let t = line.drop { $0 == " " }
            guard let first = t.split(separator: " ").first, let i = Int(first), t.contains("[") else { return nil }
            return i
        }
        #expect(DeviceCatalog.cards().map(\.index) == indices)
        let cardDevices = InputDevices.listing(timeoutMs: 200).devices.filter { $0.origin == .card }
        #expect(Set(cardDevices.map { $0.uniqueID.split(separator: ",").first.map(String.init) ?? "" })
            == Set(DeviceCatalog.cards().filter { !$0.captureDevices.isEmpty }.map { "alsa:CARD=" + $0.id }))
    }

    @Test func changesAreReportedByUniqueIDOnce() {
        let a = InputDevices.testSignal
        var b = a
        b.uniqueID = "pulse:b"
        var c = a
        c.uniqueID = "alsa:CARD=C,DEV=0"
        var renamed = b
        renamed.name = "another description"
        let changes = InputDeviceWatcher.changes(from: [a, b], to: [renamed, c])
        var goneA = a
        goneA.isConnected = false
        #expect(changes == [.disconnected(goneA), .connected(c)])
        #expect(InputDeviceWatcher.changes(from: [a], to: [a]).isEmpty)
    }
}
