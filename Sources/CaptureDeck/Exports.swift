// What a program using the CaptureDeck library product needs besides this module: the core's
// types (formats, routes, meters, errors) and, from the adapters it is built on, the file types
// and the ALSA device catalog — so `import CaptureDeck` is enough to list devices and record.
@_exported import CaptureCore
@_exported import enum CaptureFiles.FileType
@_exported import enum CaptureALSA.DeviceCatalog
@_exported import struct CaptureALSA.SoundCard
@_exported import struct CaptureALSA.CapturePCM
@_exported import struct CaptureLoudness.LoudnessReading
@_exported import enum CaptureLoudness.LoudnessError
