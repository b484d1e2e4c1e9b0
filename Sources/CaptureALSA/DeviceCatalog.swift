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
    /// Capture device numbers on this card (`hw:CARD,DEV`).
    public var captureDevices: [(device: Int, name: String)]

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
            if snd_ctl_open(&ctl, "hw:\(card)", 0) == 0, let ctl {
                var info: OpaquePointer?
                if snd_ctl_card_info_malloc(&info) == 0, let info {
                    if snd_ctl_card_info(ctl, info) == 0 { id = String(cString: snd_ctl_card_info_get_id(info)) }
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
                                 longName: longName.map { String(cString: $0) } ?? "",
                                 captureDevices: devices))
        }
        return out
    }
}
