// swift-tools-version: 6.0
// CaptureDeck: a terminal recording console and an AVCaptureSession-shaped capture library for Linux.
import PackageDescription

let package = Package(
    name: "capdeck",
    products: [
        .executable(name: "capdeck", targets: ["capdeck"]),
        .library(name: "CaptureDeck", targets: ["CaptureDeck"]),
        .library(name: "CaptureCore", targets: ["CaptureCore"]),
        // Apple's AVFoundation audio-capture surface over CaptureDeck: a port swaps its import only.
        .library(name: "CaptureDeckAVFoundation", targets: ["CaptureDeckAVFoundation"]),
        // Test tool: an LD_PRELOAD library that makes ALSA reads fail on a plan (see Sources/CPCMFaults).
        .library(name: "CapdeckPCMFaults", type: .dynamic, targets: ["CPCMFaults"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Layer 1: thin C shims, one per system library (only what Swift can't import).
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        // No pkgConfig: ncursesw's .pc file carries -D flags SwiftPM rejects (with a warning); the header
        // is on the default include path and the modulemap names the libraries.
        .systemLibrary(name: "CNcursesW", providers: [.apt(["libncursesw5-dev"])]),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSamplerate", providers: [.apt(["libsamplerate0-dev"])]),
        // Both loaders' one routine: dlopen on first use, every function resolved into a table.
        .target(name: "CLoader", cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))]),
        // libpulse's headers, and a loader that opens it on first use (not linked: see
        // Sources/CPulse/include/CPulse.h).
        .target(name: "CPulse", dependencies: ["CLoader"], cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))]),
        // libdbus-1's interface as capdeck uses it, declared in its own header (no -I: libdbus's
        // headers are where only pkg-config knows), and a loader that opens it on first use (not
        // linked: see Sources/CDBus/include/CDBus.h).
        .target(name: "CDBus", dependencies: ["CLoader"], cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))]),
        // libebur128: EBU R128 loudness and true peak.
        .systemLibrary(name: "CEbur128", pkgConfig: "libebur128", providers: [.apt(["libebur128-dev"])]),

        // Layer 2: the pure core. Never imports a C shim.
        .target(name: "CaptureCore"),

        // Layer 3: one adapter per C library.
        .target(name: "CaptureALSA", dependencies: ["CaptureCore", "CALSA"]),
        // Loudness and true peak (EBU R128 over libebur128), measured on the writer side.
        .target(name: "CaptureLoudness", dependencies: ["CaptureCore", "CEbur128"]),
        // Files (libsndfile); a WAV's bext carries its loudness, measured as it is written.
        .target(name: "CaptureFiles", dependencies: ["CaptureCore", "CaptureLoudness", "CSndfile"]),
        // Sample-rate conversion for routes that can't give the recording's rate.
        .target(name: "CaptureResample", dependencies: ["CaptureCore", "CSamplerate"]),
        // The sound server (libpulse): a control connection with deadlines, never on the capture thread.
        .target(name: "CapturePulse", dependencies: ["CaptureCore", "CPulse"]),
        // The session D-Bus (libdbus): media players (MPRIS) paused while mix is off and restored
        // after, with a crash journal; on its own serial queue, never the capture thread.
        .target(name: "CaptureDBus", dependencies: ["CaptureCore", "CDBus"]),

        // Layer 4: the AVCaptureSession-shaped library API over the engine and adapters.
        .target(name: "CaptureDeck", dependencies: ["CaptureCore", "CaptureALSA", "CaptureFiles", "CaptureLoudness", "CaptureResample", "CapturePulse", "CaptureDBus"]),

        // Layer 4½ (library): Apple's names, signatures and documented behaviour (AVCaptureSession,
        // AVCaptureDevice, the outputs and their delegates, CMSampleBuffer and the CoreMedia subset
        // audio code calls, AVError, NotificationCenter notifications), a thin layer over CaptureDeck.
        // Built in Swift 6 mode; its Swift 5 clients are checked by AVFoundationPortTests.
        .target(
            name: "CaptureDeckAVFoundation",
            dependencies: ["CaptureDeck", "CaptureCore", "CaptureALSA", "CaptureFiles", "CapturePulse"]
        ),

        // The config file (TOML), with errors that name the file, line and key. The parser is
        // Debian's toml++ (libtomlplusplus-dev, header-only) behind one C function in CTOMLParse:
        // no Foundation in capdeck (Sources/CaptureConfig/TOMLDocument.swift says why).
        .target(name: "CTOMLParse"),
        .target(name: "CaptureConfig", dependencies: ["CaptureCore", "CTOMLParse"]),

        // Layer 4: the console: widgets and layout on a plain grid (pure), and its ncurses terminal.
        .target(name: "ConsoleUI", dependencies: ["CaptureCore"]),
        .target(name: "CaptureConsole", dependencies: ["ConsoleUI", "CaptureCore", "CNcursesW"]),

        // Layer 4½: the applications on the library, with no argument parsing: the console's
        // controller and its state file, `record`'s run (its event follower, status line and stdin
        // control), the config file, output files and the default-input checks, and `Failure`.
        .target(
            name: "CaptureApp",
            dependencies: ["CaptureCore", "CaptureALSA", "CaptureFiles", "CaptureDeck", "CaptureConfig", "ConsoleUI", "CaptureConsole", "CaptureLoudness"]
        ),

        // Layer 5: the executable: subcommands and their options, and wiring.
        .executableTarget(
            name: "capdeck",
            dependencies: [
                "CaptureApp", "CaptureCore", "CaptureALSA", "CaptureFiles", "ConsoleUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Measurement support: counts heap allocations per thread (tests and `make bench`).
        .target(name: "CAllocCounter"),
        // Fault injection for tests and soak: wraps snd_pcm_readi/snd_pcm_resume under LD_PRELOAD.
        .target(name: "CPCMFaults"),
        .executableTarget(
            name: "capdeck-bench",
            dependencies: ["CaptureCore", "CaptureALSA", "CaptureFiles", "CaptureLoudness", "CAllocCounter"]
        ),

        // Fuzz targets (config parser, recover's header analysis): libFuzzer under `make fuzz`, a
        // replay tool in normal builds.
        .systemLibrary(name: "CFuzzer"),
        .executableTarget(name: "capdeck-fuzz", dependencies: ["CaptureCore", "CaptureConfig", "CFuzzer"]),

        // One scripted capture source, a bounded wait, child processes, temp dirs and a private
        // PulseAudio daemon, shared by the test targets.
        .target(name: "CaptureTestSupport", dependencies: ["CaptureCore"], path: "Tests/Support/CaptureTestSupport"),
        .testTarget(name: "CaptureCoreTests", dependencies: ["CaptureCore", "CAllocCounter", "CaptureTestSupport"]),
        .testTarget(name: "CaptureDeckTests", dependencies: ["CaptureDeck", "CaptureCore", "CaptureFiles", "CaptureResample", "CAllocCounter", "CSndfile", "CaptureTestSupport"]),
        // The AVFoundation layer's own tests (Swift 6), and programs written against Apple's API as
        // real apps are, in Swift 5 mode (most Apple sample code is), run on test PCMs and the
        // built-in source.
        .testTarget(name: "CaptureDeckAVFoundationTests", dependencies: ["CaptureDeckAVFoundation", "CaptureDeck", "CaptureCore", "CaptureALSA", "CaptureTestSupport"]),
        .testTarget(
            name: "AVFoundationPortTests",
            // CaptureTestSupport only for the scaffolding (a PulseAudio daemon, child processes).
            dependencies: ["CaptureDeckAVFoundation", "CaptureTestSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(name: "CaptureDBusTests", dependencies: ["CaptureDBus", "CaptureCore", "CaptureTestSupport"]),
        .testTarget(name: "CaptureALSATests", dependencies: ["CaptureALSA", "CaptureCore"]),
        .testTarget(name: "ConsoleUITests", dependencies: ["ConsoleUI", "CaptureCore"]),
        .testTarget(name: "CaptureAppTests", dependencies: ["CaptureApp", "CaptureDeck", "CaptureConfig", "CaptureCore", "ConsoleUI", "CaptureLoudness"]),
        .testTarget(name: "CaptureConfigTests", dependencies: ["CaptureConfig", "CaptureCore"]),
        .testTarget(name: "CaptureFilesTests", dependencies: ["CaptureCore", "CaptureFiles", "CSndfile", "CaptureTestSupport"]),
        // The EBU Tech 3341 and 3342 cases, generated as the documents describe, through the meter.
        .testTarget(name: "CaptureLoudnessTests", dependencies: ["CaptureLoudness", "CaptureCore", "CaptureTestSupport", "CEbur128", "CAllocCounter"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["CaptureCore", "CaptureALSA", "CaptureFiles", "CAllocCounter", "CSndfile", "CaptureTestSupport", "CaptureLoudness"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
