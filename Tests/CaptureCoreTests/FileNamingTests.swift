// Default names and directories for recordings.
import CaptureCore
import Foundation
import Testing

@Suite struct FileNamingTests {
    @Test func patternExpandsWithStrftime() throws {
        // 2026-01-02 03:04:05 UTC, in the test process's local zone (TZ=UTC0 set below).
        setenv("TZ", "UTC0", 1); tzset()
        let name = try FileNaming.expand(pattern: FileNaming.defaultPattern, time: 1_767_323_045)
        #expect(name == "capdeck-20260102-030405")
    }

    @Test func badPatternsAreRejected() {
        #expect(throws: FileNaming.PatternError.containsSlash) { try FileNaming.expand(pattern: "a/%Y", time: 0) }
        #expect(throws: FileNaming.PatternError.empty) { try FileNaming.expand(pattern: "", time: 0) }
        #expect(throws: FileNaming.PatternError.tooLong) {
            try FileNaming.expand(pattern: String(repeating: "x", count: 300), time: 0)
        }
        #expect(throws: FileNaming.PatternError.expandsToNothing) { try FileNaming.expand(pattern: "..", time: 0) }
    }

    @Test func collisionsGetNumbers() {
        #expect(FileNaming.candidate(base: "take", fileExtension: "wav", attempt: 0) == "take.wav")
        #expect(FileNaming.candidate(base: "take", fileExtension: "wav", attempt: 2) == "take-2.wav")
    }

    @Test func defaultDirectoryFollowsXDG() {
        #expect(FileNaming.defaultDirectory(environment: ["XDG_DATA_HOME": "/x", "HOME": "/h"]) == "/x/capdeck/recordings")
        #expect(FileNaming.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.local/share/capdeck/recordings")
        #expect(FileNaming.defaultDirectory(environment: ["XDG_DATA_HOME": "relative", "HOME": "/h"]) == "/h/.local/share/capdeck/recordings")
    }
}
