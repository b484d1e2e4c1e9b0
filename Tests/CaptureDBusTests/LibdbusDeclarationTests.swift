// CDBus declares the part of libdbus it uses itself (Sources/CDBus/include/libdbus-abi.h: no -I
// flags, so the package can be a dependency by version). These tests hold those declarations to
// libdbus's own headers (libdbus-1-dev, found by pkg-config), compiled with clang as SwiftPM
// compiles CDBus: one program, built once against each, prints the two structs' layouts and every
// constant's value; and the loader's table is compiled against libdbus's prototypes.
import CaptureTestSupport
import Foundation
import Glibc
import Testing

@Suite(.timeLimit(.minutes(1)))
struct LibdbusDeclarationTests {
    static let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CDBus/include").path

    /// Every constant libdbus-abi.h defines: its `#define DBUS_…` lines and its enumerators.
    static func constants() throws -> [String] {
        let text = try String(contentsOfFile: include + "/libdbus-abi.h", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let m = line.firstMatch(of: /^#define (DBUS_[A-Z0-9_]+)\s/) ?? line.firstMatch(of: /^ +(DBUS_[A-Z0-9_]+),?$/)
            return m.map { String($0.1) }
        }
    }

    /// sizeof, _Alignof and offsetof for each field of the two structs callers put on the stack
    /// (a bitfield has no offset: the bytes it sets, alone, show where it is), and each constant.
    static func layoutProgram(_ constants: [String]) -> String {
        let error = ["name", "message", "padding1"], errorBits = (1...5).map { "dummy\($0)" }
        let iter = (1...11).map { "dummy\($0)" } + ["pad1", "pad2", "pad3"]
        func show(_ expression: String) -> String { "    printf(\"%s %ld\\n\", \"\(expression)\", (long)(\(expression)));\n" }
        var main = ""
        for t in ["DBusError", "DBusMessageIter", "dbus_bool_t", "dbus_uint32_t", "DBusHandlerResult"] {
            main += show("sizeof(\(t))") + show("_Alignof(\(t))")
        }
        main += show("(dbus_bool_t)-1 > 0") + show("(dbus_uint32_t)-1 > 0")
        main += error.map { show("offsetof(DBusError, \($0))") }.joined()
        main += errorBits.map { "    { DBusError e; memset(&e, 0, sizeof e); e.\($0) = 1; bytes(\"DBusError.\($0)\", &e, sizeof e); }\n" }.joined()
        main += iter.map { show("offsetof(DBusMessageIter, \($0))") }.joined()
        main += constants.map(show).joined()
        return """
            #include <stddef.h>
            #include <stdio.h>
            #include <string.h>
            #include HEADER
            static void bytes(const char *what, const void *p, size_t n) {
                printf("%s:", what);
                for (size_t i = 0; i < n; i++) if (((const unsigned char *)p)[i]) printf(" [%zu] %#x", i, ((const unsigned char *)p)[i]);
                printf("\\n");
            }
            int main(void) {
            \(main)    return 0;
            }

            """
    }

    /// libdbus's own headers (dbus/dbus.h) and CDBus's table: each function's type in the table
    /// must be the one libdbus declares (nullability aside, which C's type compatibility ignores).
    static let prototypeProgram = """
        #include <dbus/dbus.h>
        #define CAPDECK_LIBDBUS_ABI_H /* libdbus's declarations, not CDBus's copy */
        #include "CDBus.h"
        #define SAME(name, result, parameters) \\
            _Static_assert(__builtin_types_compatible_p(__typeof__(&name), result (*) parameters), #name " is not declared as libdbus declares it");
        CAPDECK_DBUS_FUNCTIONS(SAME)
        int main(void) { return 0; }

        """

    /// `pkg-config --cflags dbus-1`: libdbus's include directories.
    static func libdbusCflags(_ dir: TempDir) async throws -> [String] {
        let r = try await runProgram("/usr/bin/env", ["pkg-config", "--cflags", "dbus-1"], environment: ProcessInfo.processInfo.environment, scratch: dir)
        guard r.exitCode == 0 else { throw SupportFailure(description: "pkg-config --cflags dbus-1 failed (libdbus-1-dev is in the Makefile's DEBS): \(r)") }
        return r.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// Compiles `source` with clang -Wall -Werror (and `flags`) into `name` in `dir`; its path.
    static func compile(_ source: String, _ name: String, _ flags: [String], in dir: TempDir) async throws -> String {
        try dir.write(name + ".c", source)
        let exe = dir.path(name)
        let r = try await runProgram("/usr/bin/env", ["clang", "-std=c11", "-Wall", "-Werror"] + flags + ["-o", exe, dir.path(name + ".c")],
                                     environment: ProcessInfo.processInfo.environment, scratch: dir)
        guard r.exitCode == 0 else { throw SupportFailure(description: "clang \(name).c: \(r.termination)\n\(r.stderr)") }
        return exe
    }

    @Test("CDBus's DBusError and DBusMessageIter have libdbus's layout (size, alignment, every field's place, each bitfield's bits), and its types and constants libdbus's values")
    func layoutsAndConstantsAreLibdbus() async throws {
        let dir = try TempDir("capdeck-libdbus-abi")
        defer { dir.remove() }
        let constants = try Self.constants()
        // What the test covers: not nothing, should the header change shape.
        for c in ["DBUS_TYPE_STRING", "DBUS_TYPE_DICT_ENTRY", "DBUS_NAME_FLAG_DO_NOT_QUEUE", "DBUS_REQUEST_NAME_REPLY_EXISTS",
                  "DBUS_HANDLER_RESULT_NEED_MEMORY", "DBUS_MESSAGE_TYPE_METHOD_CALL"] {
            #expect(constants.contains(c), "\(constants)")
        }
        let source = Self.layoutProgram(constants)
        let real = try await Self.compile(source, "real", try await Self.libdbusCflags(dir) + ["-DHEADER=<dbus/dbus.h>"], in: dir)
        let ours = try await Self.compile(source, "ours", ["-I", Self.include, "-DHEADER=\"CDBus.h\""], in: dir)
        let env = ProcessInfo.processInfo.environment
        let a = try await runProgram(real, [], environment: env, scratch: dir)
        let b = try await runProgram(ours, [], environment: env, scratch: dir)
        #expect(a.exitCode == 0 && b.exitCode == 0)
        let realLines = a.stdout.split(separator: "\n"), ourLines = b.stdout.split(separator: "\n")
        #expect(realLines.count == 10 + 2 + 3 + 5 + 14 + constants.count, "every line printed: \(a.stdout)")
        for (r, o) in zip(realLines, ourLines) { #expect(o == r, "libdbus's headers: \(r); CDBus: \(o)") }
        #expect(ourLines.count == realLines.count)
    }

    @Test("every function in CDBus's table (CAPDECK_DBUS_FUNCTIONS) has the type libdbus's headers declare for it")
    func functionTypesAreLibdbus() async throws {
        let dir = try TempDir("capdeck-libdbus-abi")
        defer { dir.remove() }
        _ = try await Self.compile(Self.prototypeProgram, "prototypes", try await Self.libdbusCflags(dir) + ["-I", Self.include], in: dir)
    }
}
