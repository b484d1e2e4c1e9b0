// A subset of a device's channels, recorded in the order given (`--select 1,2,5-8`), and the
// writer-side gather that picks them out of the ring's frames.

/// Why a channel selection was refused.
public struct ChannelSelectionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Device channels to record, in recording order: `--select 3,1` records the device's channel 3
/// as the file's first. Counted from 1 as users and interfaces count them; `indices` from 0.
///
/// The capture thread never sees it: the device is opened with `deviceChannels` channels, the
/// ring carries them all, and the writer queue gathers the selected ones (`gather`) before the
/// meter and the outputs, so the real-time path stays a plain copy and only the writer pays.
/// A channel may be selected once: a duplicate is almost always a typo, and a copy is a mixer's job.
public struct ChannelSelection: Sendable, Equatable, CustomStringConvertible {
    /// 0-based device channels, in recording order.
    public let indices: [Int]

    /// Checks `indices` (0-based): not empty, each in the channel range, none twice.
    public init(indices: [Int]) throws(ChannelSelectionError) {
        guard !indices.isEmpty else { throw ChannelSelectionError(message: "no channel selected") }
        var seen = Set<Int>()
        for i in indices {
            guard i >= 0 else { throw ChannelSelectionError(message: "channels count from 1; \(i + 1) is none") }
            guard i < StreamFormat.channelRange.upperBound else {
                throw ChannelSelectionError(message: "channel \(i + 1) is beyond the \(StreamFormat.channelRange.upperBound) a device can have")
            }
            guard seen.insert(i).inserted else {
                throw ChannelSelectionError(message: "channel \(i + 1) is selected twice (each channel is recorded once)")
            }
        }
        self.indices = indices
    }

    /// Parses `1,2,5-8` (1-based, ranges ascending, spaces allowed around the numbers).
    public init(parsing text: String) throws(ChannelSelectionError) {
        var out: [Int] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        for raw in items {
            let item = raw.trimmingSpaces
            guard !item.isEmpty else {
                throw ChannelSelectionError(message: text.trimmingSpaces.isEmpty ? "no channel selected"
                                            : "'\(text)': an empty item (use channel numbers and ranges like 1,2,5-8)")
            }
            let ends = item.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            func number(_ s: Substring) throws(ChannelSelectionError) -> Int {
                guard !s.isEmpty, s.allSatisfy(\.isASCIIDigit), s.count <= 6, let n = Int(s) else {
                    throw ChannelSelectionError(message: "'\(item)' is not a channel number or a range like 5-8")
                }
                if n == 0 { throw ChannelSelectionError(message: "channels count from 1; 0 is none") }
                return n
            }
            switch ends.count {
            case 1: out.append(try number(ends[0]) - 1)
            case 2:
                let a = try number(ends[0]), b = try number(ends[1])
                guard a <= b else { throw ChannelSelectionError(message: "'\(item)': a range goes up (\(b)-\(a))") }
                guard b <= StreamFormat.channelRange.upperBound else {
                    throw ChannelSelectionError(message: "channel \(b) is beyond the \(StreamFormat.channelRange.upperBound) a device can have")
                }
                out += (a - 1)..<b
            default:
                throw ChannelSelectionError(message: "'\(item)' is not a channel number or a range like 5-8")
            }
        }
        try self.init(indices: out)
    }

    /// Channels recorded.
    public var count: Int { indices.count }
    /// Channels the device must give: up to the highest selected.
    public var deviceChannels: Int { (indices.max() ?? 0) + 1 }
    /// 1-based device channel numbers, in recording order (the console's meter labels).
    public var numbers: [Int] { indices.map { $0 + 1 } }

    /// The selection as it is written: 1-based, runs of three or more as ranges (`1,2,5-8`).
    public var description: String {
        var parts: [String] = []
        var i = 0
        while i < indices.count {
            var j = i
            while j + 1 < indices.count && indices[j + 1] == indices[j] + 1 { j += 1 }
            if j - i >= 2 {
                parts.append("\(indices[i] + 1)-\(indices[j] + 1)")
            } else {
                for k in i...j { parts.append("\(indices[k] + 1)") }
            }
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// Copies the selected channels of `frames` frames in `source` (the device's channels) to
    /// `destination` (interleaved, `count` channels, same encoding). Allocation-free.
    public func gather(from source: UnsafeRawPointer, _ format: StreamFormat, to destination: UnsafeMutableRawPointer, frames: Int) {
        let b = format.sampleFormat.bytesPerSample
        let inFrame = format.bytesPerFrame, outFrame = b * indices.count
        indices.withUnsafeBufferPointer { sel in
            switch b {
            case 2: Self.copy(UInt16.self, source, inFrame, destination, outFrame, sel, frames)
            case 4: Self.copy(UInt32.self, source, inFrame, destination, outFrame, sel, frames)
            default:
                for f in 0..<frames {
                    let s = source + f * inFrame, d = destination + f * outFrame
                    for (k, ch) in sel.enumerated() { (d + k * b).copyMemory(from: s + ch * b, byteCount: b) }
                }
            }
        }
    }

    @inline(__always)
    private static func copy<T>(_: T.Type, _ source: UnsafeRawPointer, _ inFrame: Int, _ destination: UnsafeMutableRawPointer,
                                _ outFrame: Int, _ sel: UnsafeBufferPointer<Int>, _ frames: Int) {
        let size = MemoryLayout<T>.size
        for f in 0..<frames {
            let s = source + f * inFrame, d = destination + f * outFrame
            for k in 0..<sel.count {
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: sel[k] * size, as: T.self), toByteOffset: k * size, as: T.self)
            }
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring { Substring(self).trimmingSpaces }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
