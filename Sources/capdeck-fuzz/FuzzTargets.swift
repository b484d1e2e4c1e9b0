// The fuzz targets: the config parser and recover's header analysis. Each must never trap on any
// input, and the header analysis must keep its promise: a plan, once applied, leaves a header that
// analyses as consistent with exactly the frames the plan said were on disk.
import CaptureConfig
import CaptureCore

enum FuzzTarget: String, CaseIterable {
    case config, header

    func run(_ bytes: [UInt8]) {
        switch self {
        case .config: FuzzTarget.config(bytes)
        case .header: FuzzTarget.header(bytes)
        }
    }

    /// What `capdeck` does with a config file's bytes (after its 1 MiB size check).
    static func config(_ bytes: [UInt8]) {
        guard bytes.count <= 1 << 20, let text = String(validating: bytes, as: UTF8.self) else { return }
        do throws(ConfigError) {
            _ = try ConfigLoader.parse(text, path: "fuzz.toml")
        } catch {
            // Every error must be one line naming the file (what capdeck prints).
            let message = error.description
            if message.contains("\n") || !message.hasPrefix("fuzz.toml") {
                fatalError("config error is not one line starting with the path: \(message.debugDescription)")
            }
        }
    }

    /// `capdeck recover`'s analysis of a file's bytes, and the effect of its plan.
    static func header(_ bytes: [UInt8]) {
        let analysis = HeaderRepair.analyze(fileSize: bytes.count, read: reader(bytes))
        guard case .repairable(let plan) = analysis else { return }
        var fixed = bytes
        if let t = plan.truncateTo {
            if t < 0 || t > fixed.count { fatalError("truncation to \(t) of a \(fixed.count)-byte file") }
            fixed.removeSubrange(t...)
        }
        for p in plan.patches {
            if p.offset < 0 || p.offset + p.bytes.count > fixed.count {
                fatalError("patch at \(p.offset) (+\(p.bytes.count)) outside a \(fixed.count)-byte file")
            }
            fixed.replaceSubrange(p.offset..<(p.offset + p.bytes.count), with: p.bytes)
        }
        let after = HeaderRepair.analyze(fileSize: fixed.count, read: reader(fixed))
        guard case .consistent(_, let frames) = after, frames == plan.diskFrames else {
            fatalError("after repair: \(after); the plan promised \(plan.diskFrames) frames")
        }
    }

    static func reader(_ bytes: [UInt8]) -> HeaderRepair.Reader {
        { offset, count in
            guard offset >= 0, count > 0, offset < bytes.count else { return [] }
            return Array(bytes[offset..<min(bytes.count, offset + min(count, bytes.count))])
        }
    }
}
