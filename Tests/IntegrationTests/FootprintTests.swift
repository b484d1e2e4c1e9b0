// What `capdeck record` loads and when (issue 14): no Foundation or ICU at all (the config file is
// read by toml++, compiled in), libpulse only when the sound server is asked something (it is
// opened then, not linked), and a libpulse that won't load is one line, never a trap;
// CAPDECK_TRACE_STARTUP prints the start-up milestones `make bench` times, in order.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Footprint: libraries loaded on demand, start-up milestones")
    struct Footprint {
        static func home() throws -> TempDir {
            let home = try TempDir()
            try home.write("in.raw", bytes: RawAudio.counterS16Stereo(frames: 48_000).bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("t16", infile: home.path("in.raw")))
            return home
        }

        /// The files mapped by a running `capdeck record` of the built-in (clock-paced) source
        /// (/proc/PID/maps, read while it records), with the given extra arguments.
        static func mappedFiles(_ extra: [String], home: TempDir, name: String) async throws -> String {
            let out = home.path("\(name).wav")
            let p = try Capdeck.spawn(["record", "-q", "-D", "builtin:pink", "-d", "3"] + extra + [out], home: home)
            defer { Task { await p.stop() } }
            let deadline = Monotonic.now + 10
            while Monotonic.now < deadline, access(out, F_OK) != 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(300))  // the session is running
            let maps = readProcFile("/proc/\(p.pid)/maps")
            await p.stop()
            return maps
        }

        static let foundation = ["libFoundation.so", "lib_FoundationICU.so", "libFoundationInternationalization.so", "libCoreFoundation"]

        @Test("record maps neither Foundation, ICU nor libpulse, with or without a config file; the config file still applies")
        func nothingUnused() async throws {
            let home = try Self.home()
            defer { home.remove() }
            let plain = try await Self.mappedFiles([], home: home, name: "plain")
            #expect(plain.contains("libasound.so") && plain.contains("libsndfile.so"), "the maps were read: \(plain.prefix(400))")
            for lib in Self.foundation + ["libpulse.so", "libpulsecommon"] {
                #expect(!plain.contains(lib), "\(lib) mapped by a record of the built-in source")
            }
            try home.write("c.toml", "[input]\nrate = 44100\n")
            let configured = try await Self.mappedFiles(["--config", home.path("c.toml")], home: home, name: "configured")
            #expect(configured.contains("libasound.so"), "the maps were read")
            for lib in Self.foundation { #expect(!configured.contains(lib), "\(lib) mapped to read a config file") }
            // And the file was read: the take is at its rate.
            let out = home.path("rate.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "t16", "-d", "0.2", "--config", home.path("c.toml"), out], home: home, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            let file = try SoundFile.read(out, samples: .none)
            #expect(file.sampleRate == 44_100 && file.frames == 8_820, "\(file.sampleRate) Hz, \(file.frames) frames")
        }

        @Test("a libpulse.so.0 that won't load (corrupt): devices names it as why the server can't be reached, record fails in one line (exit 69), no trap; the built-in source records as before")
        func corruptLibpulse() async throws {
            let home = try Self.home()
            defer { home.remove() }
            let libs = home.makeDirectory("lib", mode: 0o755)
            try home.write("lib/libpulse.so.0", "not a shared object\n")
            let daemon = try await PulseDaemon.start()
            defer { daemon.shutdown() }
            var env = daemon.clientEnvironment
            env["LD_LIBRARY_PATH"] = libs
            let traps = ["Fatal error", "Stack dump", "backtrace", "Segmentation"]
            // A server that answers, but no libpulse to ask it with: the loader's own words.
            let d = try await Capdeck.run(["devices"], home: home, extraEnvironment: env, timeout: 20)
            #expect(d.exitCode == 0, "\(d)")
            let why = d.stdout.split(separator: "\n").filter { $0.contains("libpulse.so.0") }
            #expect(why.count == 1 && why[0].contains("could not be reached") && why[0].contains("file too short"), "\(d.stdout)")
            for bad in traps { #expect(!d.stderr.contains(bad), "\(d.stderr)") }
            // record without -D: the default PCM is the server's, which can't be opened either.
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-d", "0.2", out], home: home, extraEnvironment: env, timeout: 20)
            #expect(r.exitCode == 69, "\(r)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.contains("app audio session configured") }
            #expect(lines.count == 1, "one line: \(r.stderr)")
            for bad in traps { #expect(!r.stderr.contains(bad), "\(r.stderr)") }
            #expect(access(out, F_OK) != 0, "no file left behind")
            // The built-in source needs neither (ALSA's own config fails to load its pulse hook here).
            let ok = try await Capdeck.run(["record", "-q", "-D", "builtin:pink", "-d", "0.2", out], home: home, extraEnvironment: env, timeout: 20)
            #expect(ok.exitCode == 0, "\(ok)")
            #expect(try SoundFile.read(out, samples: .none).frames == 9_600)
        }

        @Test("CAPDECK_TRACE_STARTUP=1: main, args-parsed, device-open, then running and first-frame, once each, after the launch; unset: none")
        func startupTrace() async throws {
            let home = try Self.home()
            defer { home.remove() }
            var before = timespec()
            clock_gettime(CLOCK_MONOTONIC, &before)
            let launched = Int(before.tv_sec) * 1_000_000_000 + before.tv_nsec
            let r = try await Capdeck.run(["record", "-q", "-D", "t16", "-d", "0.2", home.path("t.wav")], home: home,
                                          extraEnvironment: ["CAPDECK_TRACE_STARTUP": "1"], timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            let marks = r.stderrLines.filter { $0.hasPrefix("capdeck-trace: ") }.map { $0.split(separator: " ") }
            let names = marks.map { String($0[1]) }
            // The first frames can reach the writer before startRunning returns: those two in either order.
            #expect(Array(names.prefix(3)) == ["main", "args-parsed", "device-open"], "\(r.stderr)")
            #expect(names.dropFirst(3).sorted() == ["first-frame", "running"], "\(r.stderr)")
            let times = marks.compactMap { Int($0.last ?? "") }
            #expect(times.count == 5 && times == times.sorted() && (times.first ?? 0) > launched, "\(times) after \(launched)")
            let quiet = try await Capdeck.run(["record", "-q", "-D", "t16", "-d", "0.2", home.path("u.wav")], home: home, timeout: 20)
            #expect(quiet.exitCode == 0 && !quiet.stderr.contains("capdeck-trace"), "\(quiet)")
        }
    }
}

/// A /proc file's whole text (its size reads as 0, so read to the end).
private func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes += chunk[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
