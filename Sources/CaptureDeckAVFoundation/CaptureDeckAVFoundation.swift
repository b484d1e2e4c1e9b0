// CaptureDeckAVFoundation: Apple's AVFoundation audio-capture surface on Linux, over CaptureDeck.
//
// A program written for Apple's platforms changes its imports only:
//
//     #if canImport(AVFoundation)
//     import AVFoundation
//     #else
//     import CaptureDeckAVFoundation
//     #endif
//
// Every public name here is Apple's, with Apple's signature and documented behaviour; where Linux
// must differ, the symbol's doc comment says how (and the DocC article "Porting from Apple's
// AVFoundation", CaptureDeckAVFoundation.docc/PortingFromAVFoundation.md, is the whole list). The module
// is a thin layer: the engine, the session's state machine, devices and files are CaptureDeck's.
//
// Files:
// - AVCaptureSession.swift        the session, presets, the four audio-session properties
// - Notifications.swift           Apple's notification names and userInfo keys, and their posting
// - AVCaptureOutput.swift         AVCaptureOutput, AVCaptureConnection, AVCaptureAudioChannel
// - AVCaptureAudioDataOutput.swift   sample buffers to a delegate on its queue
// - AVCaptureFileOutput.swift     AVCaptureFileOutput, AVCaptureAudioFileOutput and the delegate
// - AVCaptureAudioPreviewOutput.swift  monitoring to a playback device
// - AVCaptureDevice*.swift, AVCaptureDeviceInput.swift  devices, discovery, hot-plug,
//                                 authorization, configuration locks; AVCaptureInput
// - AVError.swift, AVTypes.swift, AudioSettings.swift  AVError, AVMediaType, AVFileType, settings keys
// - CoreMedia/                    CMTime, CMSampleBuffer, CMBlockBuffer, CMFormatDescription, and
//                                 CoreAudioTypes' AudioStreamBasicDescription and AudioBufferList
import Foundation
