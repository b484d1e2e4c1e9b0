// The device catalog: ALSA's capture PCMs and sound cards, with the kind of access each gives.
import CALSA
import CaptureCore
import Glibc

/// One capture PCM the user can name with `-D`.
public struct CapturePCM: Sendable, Equatable {
    public var name: String
    public var description: String
    public var access: AccessKind
}

/// One sound card and its capture devices.
public struct SoundCard: Sendable, Equatable {
    public var index: Int
    public var id: String
    public var name: String
    public var longName: String
    /// The driver's name (`HDA-Intel`, `USB-Audio`, `Loopback`, `Dummy`): what kind of hardware it is.
    public var driver: String = ""
    /// Capture device numbers on this card (`hw:CARD,DEV`).
    public var captureDevices: [(device: Int, name: String)]

    public init(index: Int, id: String, name: String, longName: String, driver: String = "", captureDevices: [(device: Int, name: String)]) {
        self.index = index
        self.id = id
        self.name = name
        self.longName = longName
        self.driver = driver
        self.captureDevices = captureDevices
    }

    public static func == (a: SoundCard, b: SoundCard) -> Bool {
        a.index == b.index && a.id == b.id && a.captureDevices.map(\.device) == b.captureDevices.map(\.device)
    }
}

/// Lists what can be captured from.
public enum DeviceCatalog {
    /// Classifies a PCM name by the access it gives other programs (see Docs/audio-session.md).
    public static func accessKind(forPCM name: String) -> AccessKind {
        let lower = name.lowercased()
        let kind = lower.split(separator: ":", maxSplits: 1).first.map(String.init) ?? lower
        switch kind {
        case "hw", "plughw", "front", "sysdefault": return .exclusive
        case "dsnoop": return .shared
        case "default", "pulse", "pipewire", "jack": return .soundServer
        case "bluealsa": return .bluetooth
        default: return .unknown
        }
    }

    /// Capture PCMs from ALSA's configuration hints (`snd_device_name_hint`).
    public static func capturePCMs() -> [CapturePCM] {
        ALSA.initialize()
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &hints) == 0, let hints else { return [] }
        defer { snd_device_name_free_hint(hints) }
        var out: [CapturePCM] = []
        var i = 0
        while let hint = hints[i] {
            i += 1
            func get(_ key: String) -> String? {
                guard let c = snd_device_name_get_hint(hint, key) else { return nil }
                defer { free(c) }
                return String(cString: c)
            }
            guard let name = get("NAME") else { continue }
            let ioid = get("IOID")
            if let ioid, ioid != "Input" { continue }
            // Rate converters, mixers and the null sink are plugins, not sources to record from.
            if ["null", "lavrate", "samplerate", "speexrate", "speex", "upmix", "vdownmix"].contains(name) { continue }
            let desc = (get("DESC") ?? "").split(separator: "\n").joined(separator: " — ")
            out.append(CapturePCM(name: name, description: desc, access: accessKind(forPCM: name)))
        }
        return out
    }

    /// Sound cards (`snd_card_next`) with their capture devices.
    public static func cards() -> [SoundCard] {
        ALSA.initialize()
        var out: [SoundCard] = []
        var card: Int32 = -1
        while snd_card_next(&card) == 0 && card >= 0 {
            var name: UnsafeMutablePointer<CChar>?
            var longName: UnsafeMutablePointer<CChar>?
            snd_card_get_name(card, &name)
            snd_card_get_longname(card, &longName)
            defer { free(name); free(longName) }
            var devices: [(Int, String)] = []
            var ctl: OpaquePointer?
            var id = "\(card)"
            var driver = ""
            if snd_ctl_open(&ctl, "hw:\(card)", 0) == 0, let ctl {
                var info: OpaquePointer?
                if snd_ctl_card_info_malloc(&info) == 0, let info {
                    if snd_ctl_card_info(ctl, info) == 0 {
                        id = String(cString: snd_ctl_card_info_get_id(info))
                        driver = String(cString: snd_ctl_card_info_get_driver(info))
                    }
                    snd_ctl_card_info_free(info)
                }
                var dev: Int32 = -1
                var pinfo: OpaquePointer?
                if snd_pcm_info_malloc(&pinfo) == 0, let pinfo {
                    while snd_ctl_pcm_next_device(ctl, &dev) == 0 && dev >= 0 {
                        snd_pcm_info_set_device(pinfo, UInt32(dev))
                        snd_pcm_info_set_subdevice(pinfo, 0)
                        snd_pcm_info_set_stream(pinfo, SND_PCM_STREAM_CAPTURE)
                        if snd_ctl_pcm_info(ctl, pinfo) == 0 {
                            devices.append((Int(dev), String(cString: snd_pcm_info_get_name(pinfo))))
                        }
                    }
                    snd_pcm_info_free(pinfo)
                }
                snd_ctl_close(ctl)
            }
            out.append(SoundCard(index: Int(card), id: id,
                                 name: name.map { String(cString: $0) } ?? "card \(card)",
                                 longName: longName.map { String(cString: $0) } ?? "", driver: driver,
                                 captureDevices: devices))
        }
        return out
    }

    /// Whether a program other than this one holds `pcm` open for capture, told without opening
    /// anything: CaptureDeck's exclusive-route lock (its file names the holder), and for a card's
    /// `hw`/`plughw`/`dsnoop`/`front` views the kernel's own record of each capture substream's
    /// owner (`/proc/asound/cardN/pcmDc/subS/status`, `owner_pid`). nil: can't tell.
    ///
    /// Cheap (a few small reads): the session asks it on its retry timer, so that while another
    /// program holds a view of the card it stays on the view it has instead of closing it to try.
    public static func heldByAnotherProgram(pcm: String) -> Bool? {
        let me = getpid()
        if let pid = RouteLock.holder(pcm: pcm) { return pid != me }
        guard let card = cardDirectory(forPCM: pcm) else { return nil }
        guard let streams = try? directoryEntries(card) else { return nil }
        var sawStatus = false
        for pcmDir in streams where pcmDir.hasPrefix("pcm") && pcmDir.hasSuffix("c") {
            for sub in (try? directoryEntries(card + "/" + pcmDir)) ?? [] where sub.hasPrefix("sub") {
                guard let text = readSmallFile(card + "/" + pcmDir + "/" + sub + "/status") else { continue }
                sawStatus = true
                for line in text.split(separator: "\n") where line.hasPrefix("owner_pid") {
                    if let v = line.split(separator: ":").last, let pid = pid_t(v.filter { !$0.isWhitespace }), pid != me {
                        return true
                    }
                }
            }
        }
        return sawStatus ? false : nil
    }

    /// The card index of an exclusive card view (`hw:N`, `plughw:N,D`, `hw:CARD=ID,DEV=D`,
    /// `plughw:ID`): N itself, or for a card's id the target of the `/proc/asound/ID` link
    /// (`cardN`). nil for any other PCM, or an id no card has.
    public static func cardIndex(forExclusivePCM name: String) -> Int? {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["hw", "plughw"].contains(parts[0].lowercased()) else { return nil }
        var card = parts[1].split(separator: ",").first.map(String.init) ?? ""
        if card.hasPrefix("CARD=") { card.removeFirst(5) }
        if card.count >= 2, card.first == "\"", card.last == "\"" { card = String(card.dropFirst().dropLast()) }
        guard !card.isEmpty else { return nil }
        if card.allSatisfy(\.isNumber) { return Int(card) }
        guard !card.contains("/") else { return nil }
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/asound/" + card, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard target.hasPrefix("card") else { return nil }
        return Int(target.dropFirst(4))
    }

    /// A small file of card `index`'s directory in /proc/asound (`usbid`, `codec#0`), or nil when
    /// it has none. `root`: another directory laid out as /proc/asound (tests).
    public static func cardFile(_ index: Int, _ name: String, root: String = "/proc/asound") -> String? {
        readSmallFile(root + "/card\(index)/" + name)
    }

    /// `/proc/asound/cardN` for a card view's name (`hw:0`, `plughw:CARD=USB,DEV=0`, `dsnoop:1`).
    static func cardDirectory(forPCM name: String) -> String? {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["hw", "plughw", "dsnoop", "front", "sysdefault"].contains(parts[0].lowercased()) else { return nil }
        var card = parts[1].split(separator: ",").first.map(String.init) ?? ""
        if card.hasPrefix("CARD=") { card.removeFirst(5) }
        guard !card.isEmpty else { return nil }
        // /proc/asound/<id> is a link to cardN.
        let dir = card.allSatisfy(\.isNumber) ? "/proc/asound/card" + card : "/proc/asound/" + card
        var st = stat()
        return stat(dir, &st) == 0 ? dir : nil
    }

    private static func directoryEntries(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw DeviceError.notFound(device: path, reason: "no such directory") }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}
