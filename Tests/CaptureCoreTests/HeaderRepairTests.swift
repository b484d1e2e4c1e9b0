// Header repair planning on synthesized WAV, RF64, W64 and CAF headers, and on garbage.
import CaptureCore
import Testing

/// Builds container bytes the way a crashed recorder leaves them: a header claiming
/// `headerFrames`, followed by `diskBytes` bytes of audio.
enum Synth {
    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func fmt(blockAlign: Int) -> [UInt8] {
        var b: [UInt8] = Array("fmt ".utf8)
        b += le(16, 4)
        b += le(1, 2)
        b += le(2, 2)
        b += le(48000, 4)
        b += le(UInt64(48000 * blockAlign), 4)
        b += le(UInt64(blockAlign), 2)
        b += le(16, 2)
        return b
    }

    static func wav(headerDataBytes: Int, diskBytes: Int, blockAlign: Int = 4) -> [UInt8] {
        var b: [UInt8] = Array("RIFF".utf8)
        b += le(UInt64(36 + headerDataBytes), 4)
        b += Array("WAVE".utf8)
        b += fmt(blockAlign: blockAlign)
        b += Array("data".utf8)
        b += le(UInt64(headerDataBytes), 4)
        b += (0..<diskBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        return b
    }

    static func caf(headerDataBytes: Int64, diskBytes: Int, bytesPerFrame: Int = 4) -> [UInt8] {
        var b: [UInt8] = Array("caff".utf8)
        b += be(1, 2)
        b += be(0, 2)
        b += Array("desc".utf8)
        b += be(32, 8)
        b += be(Double(48000).bitPattern, 8)
        b += Array("lpcm".utf8)
        b += be(12, 4)
        b += be(UInt64(bytesPerFrame), 4)
        b += be(1, 4)
        b += be(2, 4)
        b += be(16, 4)
        b += Array("data".utf8)
        b += be(UInt64(bitPattern: headerDataBytes), 8)
        b += be(0, 4)
        b += [UInt8](repeating: 1, count: diskBytes)
        return b
    }

    static func analyze(_ bytes: [UInt8]) -> RepairAnalysis {
        HeaderRepair.analyze(fileSize: bytes.count) { off, count in
            guard off >= 0, off < bytes.count else { return [] }
            return Array(bytes[off..<min(bytes.count, off + count)])
        }
    }

    static func apply(_ plan: RepairPlan, to bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        for p in plan.patches { out.replaceSubrange(p.offset..<(p.offset + p.bytes.count), with: p.bytes) }
        if let t = plan.truncateTo { out = Array(out[0..<t]) }
        return out
    }
}

@Suite struct HeaderRepairTests {
    @Test func staleWAVHeaderIsExtendedToEveryWholeFrame() throws {
        let file = Synth.wav(headerDataBytes: 400, diskBytes: 1002)  // 250 whole frames + 2 stray bytes
        guard case .repairable(let plan) = Synth.analyze(file) else { Issue.record("expected a plan"); return }
        #expect(plan.container == "WAV")
        #expect(plan.headerFrames == 100)
        #expect(plan.diskFrames == 250)
        #expect(plan.truncateTo == 44 + 1000)
        let fixed = Synth.apply(plan, to: file)
        #expect(Synth.analyze(fixed) == .consistent(container: "WAV", frames: 250))
        #expect(Array(fixed[44...]) == Array(file[44..<1044]), "audio bytes untouched")
    }

    @Test func zeroLengthHeaderFromAnEarlyCrash() {
        let file = Synth.wav(headerDataBytes: 0, diskBytes: 4000)
        guard case .repairable(let plan) = Synth.analyze(file) else { Issue.record("expected a plan"); return }
        #expect(plan.diskFrames == 1000 && plan.truncateTo == nil)
    }

    /// A WAV that crashed past 4 GiB becomes RF64, using the JUNK chunk libsndfile reserves.
    @Test func wavPastFourGiBBecomesRF64() {
        var head: [UInt8] = Array("RIFF".utf8)
        head += Synth.le(0, 4)
        head += Array("WAVE".utf8)
        head += Array("JUNK".utf8)
        head += Synth.le(28, 4)
        head += [UInt8](repeating: 0, count: 28)
        head += Synth.fmt(blockAlign: 8)
        head += Array("data".utf8)
        head += Synth.le(1000, 4)
        let dataOffset = head.count
        let size = dataOffset + 5_000_000_000 + 5
        let bytes = head
        let analysis = HeaderRepair.analyze(fileSize: size) { off, count in
            guard off < size else { return [] }
            return (off..<min(size, off + count)).map { $0 < bytes.count ? bytes[$0] : 0 }
        }
        guard case .repairable(let plan) = analysis else { Issue.record("\(analysis)"); return }
        #expect(plan.container == "WAV")
        #expect(plan.diskFrames == 625_000_000)
        #expect(plan.truncateTo == dataOffset + 5_000_000_000)
        var patched = bytes
        for p in plan.patches { patched.replaceSubrange(p.offset..<(p.offset + p.bytes.count), with: p.bytes) }
        #expect(Array(patched[0..<4]) == Array("RF64".utf8))
        #expect(Array(patched[12..<16]) == Array("ds64".utf8))
        // ds64: riff size, data size, sample count.
        #expect(HeaderRepairTests.le64(patched, 20) == UInt64(dataOffset + 5_000_000_000 - 8))
        #expect(HeaderRepairTests.le64(patched, 28) == 5_000_000_000)
        #expect(HeaderRepairTests.le64(patched, 36) == 625_000_000)
    }

    static func le64(_ b: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    @Test func completeWAVIsLeftAlone() {
        #expect(Synth.analyze(Synth.wav(headerDataBytes: 400, diskBytes: 400)) == .consistent(container: "WAV", frames: 100))
        // A trailing chunk after the data (e.g. LIST) is not audio.
        var withList = Synth.wav(headerDataBytes: 400, diskBytes: 400)
        withList += Array("LIST".utf8)
        withList += Synth.le(4, 4)
        withList += [1, 2, 3, 4]
        #expect(Synth.analyze(withList) == .consistent(container: "WAV", frames: 100))
    }

    @Test func cafWithUnknownLengthIsRepaired() {
        let file = Synth.caf(headerDataBytes: -1, diskBytes: 4003)
        guard case .repairable(let plan) = Synth.analyze(file) else { Issue.record("expected a plan"); return }
        #expect(plan.container == "CAF" && plan.diskFrames == 1000)
        #expect(Synth.analyze(Synth.apply(plan, to: file)) == .consistent(container: "CAF", frames: 1000))
    }

    @Test func garbageIsNotUnderstood() {
        let cases: [[UInt8]] = [[], Array("hello world, not audio".utf8), Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEdata".utf8),
                                Array("fLaC0000000000000".utf8)]
        for bytes in cases {
            if case .notUnderstood = Synth.analyze(bytes) {} else { Issue.record("understood garbage: \(bytes)") }
        }
    }

    /// Random corruption of a real header never traps and never yields a plan that writes
    /// outside the file.
    @Test func corruptedHeadersNeverTrap() {
        var rng: UInt64 = 0x1234_5678
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        let bases = [Synth.wav(headerDataBytes: 400, diskBytes: 800), Synth.caf(headerDataBytes: 404, diskBytes: 800)]
        for i in 0..<20_000 {
            var b = bases[i % 2]
            for _ in 0..<(1 + Int(next() % 4)) { b[Int(next() % 80)] = UInt8(truncatingIfNeeded: next()) }
            if next() % 3 == 0 { b = Array(b[0..<Int(next() % UInt64(b.count))]) }
            if case .repairable(let plan) = Synth.analyze(b) {
                for p in plan.patches { #expect(p.offset >= 0 && p.offset + p.bytes.count <= b.count) }
            }
        }
    }
}
