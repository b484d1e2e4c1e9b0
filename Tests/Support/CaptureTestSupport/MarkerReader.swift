// A recording's markers as an independent reader sees them: Tests/Support/read-markers.py parses
// the WAV cue/labl chunks, the AIFF MARK chunk or the sidecar from the bytes.
import Foundation

public struct ReadMarker: Equatable, Sendable, CustomStringConvertible {
    public var frame: Int
    public var label: String
    public init(frame: Int, label: String) {
        self.frame = frame
        self.label = label
    }
    public var description: String { "\(frame) \(label.debugDescription)" }
}

public struct MarkerReadFailure: Error, CustomStringConvertible {
    public var description: String
}

/// The markers of `path` (with `sidecar`, those of `path.markers`), read by Python.
public func readMarkers(_ path: String, sidecar: Bool = false, scratch: TempDir) async throws -> [ReadMarker] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("read-markers.py").path
    let r = try await runProgram("/usr/bin/python3", [script] + (sidecar ? ["--sidecar"] : []) + [path],
                                 environment: ProcessInfo.processInfo.environment, scratch: scratch, timeout: 30)
    guard r.exitCode == 0, let rows = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[Any]] else {
        throw MarkerReadFailure(description: "read-markers.py \(path): \(r)")
    }
    return rows.map { ReadMarker(frame: ($0[0] as? Int) ?? -1, label: ($0[1] as? String) ?? "") }
}
