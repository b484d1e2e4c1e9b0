// What `capdeck record` loads and when (issue 14): no Foundation or ICU at all (the config file is
// read by toml++, compiled in), libpulse only when the sound server is asked something and
// libdbus only when the session bus is (both opened then, not linked), and a libpulse or libdbus
// that won't load is one line, never a trap;
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

        /// A directory in `home` holding a `soname` that is no shared object, for LD_LIBRARY_PATH.
        static func corruptLibrary(_ soname: String, in home: TempDir) throws -> String {
            let libs = home.makeDirectory("lib", mode: 0o755)
            try home.write("lib/" + soname, "not a shared object\n")
            return libs
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
            for lib in Self.foundation + ["libpulse.so", "libpulsecommon", "libdbus-1.so", "libsystemd.so"] {
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
            let libs = try Self.corruptLibrary("libpulse.so.0", in: home)
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

        /// The files the dynamic linker loaded over a whole run, linked or opened later, each with
        /// what loaded it (LD_DEBUG=files names each as it loads it: "file=libdbus-1.so.3 [0];
        /// dynamically loaded by …/capdeck [0]"), and the run's other stderr lines.
        static func loads(_ r: RunResult) -> (files: [String: String], lines: [String]) {
            var files: [String: String] = [:]
            var lines: [String] = []
            for line in r.stderrLines {
                if let f = line.range(of: "\tfile=") {
                    let rest = line[f.upperBound...]
                    let name = String(rest.prefix { $0 != " " })
                    if let by = rest.range(of: "  ")?.upperBound, rest[by...].contains(" by "), files[name] == nil {
                        files[name] = String(rest[by...])
                    }
                } else if line.range(of: #"^ *[0-9]+:\s"#, options: .regularExpression) == nil {
                    lines.append(String(line))
                }
            }
            return (files, lines)
        }

        @Test("record never loads libdbus itself for the built-in source or a file PCM (ALSA's pulse hook may, as libpulse's), without a session bus nor with one and mix on; mix off on one opens it, to ask the players")
        func libdbusOnlyForTheBus() async throws {
            let home = try Self.home()
            defer { home.remove() }
            let trace = ["LD_DEBUG": "files"]
            var n = 0
            func take(_ args: [String], _ env: [String: String]) async throws -> [String: String] {
                n += 1
                let out = home.path("take\(n).wav")
                let r = try await Capdeck.run(["record", "-q"] + args + [out], home: home, extraEnvironment: env, timeout: 20)
                let (files, lines) = Self.loads(r)
                #expect(r.exitCode == 0, "\(args): \(r.termination), \(lines)")
                #expect(files["libasound.so.2"]?.contains("needed by") == true, "the loads were read: \(files)")
                return files
            }
            let builtin = try await take(["-D", "builtin:pink", "-d", "0.5"], trace)
            #expect(builtin["libdbus-1.so.3"] == nil && builtin["libsystemd.so.0"] == nil, "\(builtin)")
            // Every ALSA PCM reads ALSA's configuration, whose pulse hook (alsa-plugins') links
            // libpulse, which links libdbus (and marks itself NODELETE): then it's theirs, not ours.
            let file = try await take(["-D", "t16", "-d", "0.5"], trace)
            if let by = file["libdbus-1.so.3"] {
                #expect(by.contains("needed by") && by.contains("/libpulse.so.0"), "a file PCM: libdbus \(by)")
            }
            let bus = try await DesktopBus.start()
            defer { bus.shutdown() }
            let env = trace.merging(bus.environment) { $1 }
            let mixOn = try await take(["-D", "builtin:pink", "-d", "1", "--mix-with-others"], env)
            #expect(mixOn["libdbus-1.so.3"] == nil, "mix on: \(mixOn)")
            let mixOff = try await take(["-D", "builtin:pink", "-d", "1"], env)
            let by = mixOff["libdbus-1.so.3"] ?? "not loaded"
            #expect(by.contains("dynamically loaded by") && by.contains("capdeck"), "mix off looks for players on the bus: libdbus \(by)")
        }

        @Test("a libdbus-1.so.3 that won't load (corrupt): record with mix off on a session bus says other audio is not paused and why, as for a bus it can't reach; records the whole take, no trap; the player plays on")
        func corruptLibdbus() async throws {
            let home = try Self.home()
            defer { home.remove() }
            let libs = try Self.corruptLibrary("libdbus-1.so.3", in: home)
            let bus = try await DesktopBus.start()
            defer { bus.shutdown() }
            try await bus.startPlayer()
            var env = bus.environment
            env["LD_LIBRARY_PATH"] = libs
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-D", "builtin:pink", "-d", "1.5", out], home: home, extraEnvironment: env, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            // The line an unreachable bus gets, once, with the loader's words.
            let why = r.stderrLines.filter { $0.contains("libdbus-1.so.3") }
            #expect(why.count == 1 && why.first.map { $0.hasPrefix("capdeck: other audio: other programs' audio is not paused: ") && $0.hasSuffix("libdbus-1.so.3: file too short") } == true, "\(r.stderr)")
            for bad in ["Fatal error", "Stack dump", "backtrace", "Segmentation"] { #expect(!r.stderr.contains(bad), "\(r.stderr)") }
            #expect(try SoundFile.read(out, samples: .none).frames == 72_000)
            #expect(try await bus.status() == "Playing")
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
