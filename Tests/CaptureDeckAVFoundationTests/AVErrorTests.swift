// AVError as Apple's overlay shapes it: codes, NSError bridging, catch patterns, userInfo
// accessors; and AVMediaType, AVFileType, AVAuthorizationStatus raw values.
@testable import CaptureDeckAVFoundation
import CaptureCore
import Foundation
import Testing

@Suite struct AVErrorTests {
    @Test func codesCarryApplesRawValues() {
        let table: [(AVError.Code, Int)] = [
            (.unknown, -11800), (.outOfMemory, -11801), (.sessionNotRunning, -11803),
            (.deviceAlreadyUsedByAnotherSession, -11804), (.noDataCaptured, -11805),
            (.sessionConfigurationChanged, -11806), (.diskFull, -11807), (.deviceWasDisconnected, -11808),
            (.mediaChanged, -11809), (.maximumDurationReached, -11810), (.maximumFileSizeReached, -11811),
            (.mediaDiscontinuity, -11812), (.maximumNumberOfSamplesForFileFormatReached, -11813),
            (.deviceNotConnected, -11814), (.deviceInUseByAnotherApplication, -11815),
            (.deviceLockedForConfigurationByAnotherProcess, -11817), (.sessionWasInterrupted, -11818),
            (.mediaServicesWereReset, -11819), (.fileAlreadyExists, -11823),
            (.applicationIsNotAuthorizedToUseDevice, -11852), (.recordingAlreadyInProgress, -11859),
            (.unsupportedOutputSettings, -11861), (.operationNotAllowed, -11862), (.incorrectlyConfigured, -11875),
        ]
        for (code, raw) in table {
            #expect(code.rawValue == raw, "\(code)")
            #expect(AVError.Code(rawValue: raw) == code)
        }
        // Apple's header leaves gaps: -11802, -11816, -11851, -11874 are no code.
        for gap in [-11802, -11816, -11851, -11874] { #expect(AVError.Code(rawValue: gap) == nil) }
        // The static members name the codes, as the overlay's do.
        #expect(AVError.deviceNotConnected == AVError.Code.deviceNotConnected)
        #expect(AVError.diskFull.rawValue == -11807)
    }

    @Test func bridgesToNSErrorWithDomainCodeAndUserInfo() {
        let error = AVError(.diskFull, userInfo: [AVErrorFileSizeKey: 1234, NSLocalizedDescriptionKey: "Disk full"])
        let ns = error as NSError
        #expect(ns.domain == "AVFoundationErrorDomain")
        #expect(ns.domain == AVFoundationErrorDomain && AVError.errorDomain == AVFoundationErrorDomain)
        #expect(ns.code == -11807 && error.errorCode == -11807)
        #expect((ns.userInfo[AVErrorFileSizeKey] as? Int) == 1234)
        #expect(error.localizedDescription == "Disk full")
        let thrown: any Error = AVError(.deviceWasDisconnected)
        #expect((thrown as NSError).code == -11808)
        #expect(AVError(.unknown).userInfo.isEmpty)
    }

    @Test func catchAndCasePatternsMatchAsOnApple() {
        func raise(_ code: AVError.Code) throws { throw AVError(code) }
        var caught = ""
        do { try raise(.deviceNotConnected) } catch AVError.deviceWasDisconnected { caught = "wrong" } catch AVError.deviceNotConnected { caught = "right" } catch { caught = "none" }
        #expect(caught == "right")
        do { try raise(.diskFull) } catch let e as AVError where e.code == .diskFull { caught = "typed" } catch { caught = "none" }
        #expect(caught == "typed")
        let error: any Error = AVError(.sessionNotRunning)
        if case AVError.sessionNotRunning = error {} else { Issue.record("if case did not match") }
        if case AVError.diskFull = error { Issue.record("matched another code") }
        switch error {
        case AVError.maximumDurationReached: Issue.record("wrong case")
        case AVError.sessionNotRunning: break
        default: Issue.record("no case matched")
        }
        // An NSError in the domain matches by code; another domain's same code doesn't.
        let ns: any Error = NSError(domain: AVFoundationErrorDomain, code: -11807)
        #expect(AVError.Code.diskFull ~= ns)
        #expect(!(AVError.Code.diskFull ~= NSError(domain: NSCocoaErrorDomain, code: -11807)))
    }

    @Test func accessorsReadApplesUserInfoKeys() {
        let t = CMTime(value: 96000, timescale: 48000)
        let e = AVError(.maximumDurationReached, userInfo: [
            AVErrorTimeKey: t, AVErrorFileSizeKey: NSNumber(value: Int64(5_000_000_000)), AVErrorPIDKey: Int32(4242),
            AVErrorRecordingSuccessfullyFinishedKey: true, AVErrorMediaTypeKey: "soun",
            AVErrorMediaSubTypeKey: [NSNumber(value: kAudioFormatLinearPCM)], AVErrorFileTypeKey: AVFileType.wav,
            AVErrorPresentationTimeStampKey: CMTime(value: 1, timescale: 2), AVErrorPersistentTrackIDKey: 7,
        ])
        #expect(e.time == t)
        #expect(e.fileSize == 5_000_000_000)
        #expect(e.processID == 4242)
        #expect(e.recordingSuccessfullyFinished == true)
        #expect(e.mediaType == .audio)
        #expect(e.mediaSubtypes == [Int(kAudioFormatLinearPCM)])
        #expect(e.fileType == .wav)
        #expect(e.presentationTimeStamp == CMTime(value: 1, timescale: 2))
        #expect(e.persistentTrackID == 7)
        let typed = AVError(.unknown, userInfo: [AVErrorMediaTypeKey: AVMediaType.video, AVErrorFileTypeKey: "public.aiff-audio",
                                                 AVErrorRecordingSuccessfullyFinishedKey: NSNumber(value: false)])
        #expect(typed.mediaType == .video && typed.fileType == .aiff && typed.recordingSuccessfullyFinished == false)
        let empty = AVError(.unknown)
        #expect(empty.time == nil && empty.fileSize == nil && empty.processID == nil && empty.recordingSuccessfullyFinished == nil)
        #expect(empty.mediaType == nil && empty.fileType == nil && empty.mediaSubtypes == nil)
    }

    @Test func equalWhenCodeAndUserInfoAre() {
        #expect(AVError(.diskFull, userInfo: ["a": 1]) == AVError(.diskFull, userInfo: ["a": 1]))
        #expect(AVError(.diskFull, userInfo: ["a": 1]) != AVError(.diskFull, userInfo: ["a": 2]))
        #expect(AVError(.diskFull) != AVError(.noDataCaptured))
        #expect(Set([AVError(.diskFull), AVError(.diskFull), AVError(.unknown)]).count == 2)
    }

    /// A recording stopped by its container (AIFF at 4 GiB) is Apple's "maximum number of samples
    /// for the file format", finished successfully; a full disk is diskFull, also finished.
    @Test func recordingErrorsMapToApplesCodes() {
        let full = AVError(RecordingError.containerFull(path: "/t/a.aiff", type: "AIFF", limit: "4 GiB", framesSaved: 9))
        #expect(full.code == .maximumNumberOfSamplesForFileFormatReached)
        #expect(full.userInfo[AVErrorRecordingSuccessfullyFinishedKey] as? Bool == true)
        #expect(full.localizedDescription.contains("AIFF holds at most 4 GiB"), "\(full.localizedDescription)")
        let disk = AVError(RecordingError.diskFull(path: "/t/a.wav", framesSaved: 9))
        #expect(disk.code == .diskFull && disk.userInfo[AVErrorRecordingSuccessfullyFinishedKey] as? Bool == true)
        #expect(AVError(RecordingError.exists(path: "/t/a.wav")).code == .fileAlreadyExists)
    }

    @Test func userInfoKeysAreApplesStrings() {
        let keys = [AVErrorDeviceKey, AVErrorTimeKey, AVErrorFileSizeKey, AVErrorPIDKey, AVErrorRecordingSuccessfullyFinishedKey,
                    AVErrorMediaTypeKey, AVErrorMediaSubTypeKey, AVErrorPresentationTimeStampKey, AVErrorPersistentTrackIDKey,
                    AVErrorFileTypeKey, AVErrorDiscontinuityFlagsKey]
        #expect(keys == ["AVErrorDeviceKey", "AVErrorTimeKey", "AVErrorFileSizeKey", "AVErrorPIDKey",
                         "AVErrorRecordingSuccessfullyFinishedKey", "AVErrorMediaTypeKey", "AVErrorMediaSubTypeKey",
                         "AVErrorPresentationTimeStampKey", "AVErrorPersistentTrackIDKey", "AVErrorFileTypeKey",
                         "AVErrorDiscontinuityFlagsKey"])
    }

    @Test func mediaFileTypesAndAuthorizationCarryApplesRawValues() {
        #expect(AVMediaType.audio.rawValue == "soun" && AVMediaType.video.rawValue == "vide" && AVMediaType.muxed.rawValue == "muxx")
        #expect(AVMediaType.text.rawValue == "text" && AVMediaType.metadata.rawValue == "meta")
        #expect(AVMediaType(rawValue: "soun") == .audio)
        #expect(AVFileType.wav.rawValue == "com.microsoft.waveform-audio")
        #expect(AVFileType.caf.rawValue == "com.apple.coreaudio-format")
        #expect(AVFileType.aiff.rawValue == "public.aiff-audio" && AVFileType.aifc.rawValue == "public.aifc-audio")
        #expect(AVFileType.m4a.rawValue == "com.apple.m4a-audio" && AVFileType.mp4.rawValue == "public.mpeg-4")
        #expect(AVFileType.mov.rawValue == "com.apple.quicktime-movie" && AVFileType.mp3.rawValue == "public.mp3")
        #expect([AVAuthorizationStatus.notDetermined, .restricted, .denied, .authorized].map(\.rawValue) == [0, 1, 2, 3])
    }
}
