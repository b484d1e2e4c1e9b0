// A level meter written as Apple sample code writes one (Swift 5 mode): RMS and peak of the
// captured audio from a CMSampleBuffer, through the C-style two-call AudioBufferList pattern and
// through the Swift-era withAudioBufferList, for Int16 and Float32 PCM. Only the import differs.
#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation

final class AudioLevelMeter {
    private(set) var averagePowerLevel: Float = -160
    private(set) var peakLevel: Float = -160

    /// What a delegate's `captureOutput(_:didOutput:from:)` would call, the classic way.
    func process(_ sampleBuffer: CMSampleBuffer) {
        guard CMSampleBufferIsValid(sampleBuffer), CMSampleBufferDataIsReady(sampleBuffer),
              let formatDescription = CMSampleBufferGetFormatDescription(sampleBuffer),
              let asbd = CMAudioFormatDescriptionGetStreamBasicDescription(formatDescription)?.pointee,
              asbd.mFormatID == kAudioFormatLinearPCM else { return }

        var bufferListSize = 0
        var status = CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sampleBuffer, bufferListSizeNeededOut: &bufferListSize, bufferListOut: nil, bufferListSize: 0,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: nil, flags: 0, blockBufferOut: nil)
        guard status == noErr else { return }

        let audioBufferList = UnsafeMutablePointer<AudioBufferList>.allocate(capacity: bufferListSize / MemoryLayout<AudioBufferList>.stride + 1)
        defer { audioBufferList.deallocate() }
        var blockBuffer: CMBlockBuffer?
        status = CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sampleBuffer, bufferListSizeNeededOut: nil, bufferListOut: audioBufferList, bufferListSize: bufferListSize,
            blockBufferAllocator: kCFAllocatorDefault, blockBufferMemoryAllocator: kCFAllocatorDefault,
            flags: kCMSampleBufferFlag_AudioBufferList_Assure16ByteAlignment, blockBufferOut: &blockBuffer)
        guard status == noErr, blockBuffer != nil else { return }

        update(with: UnsafeMutableAudioBufferListPointer(audioBufferList), asbd: asbd)
    }

    /// The same, the Swift-era way.
    func processModern(_ sampleBuffer: CMSampleBuffer) throws {
        guard let asbd = sampleBuffer.formatDescription?.audioStreamBasicDescription else { return }
        try sampleBuffer.withAudioBufferList { audioBufferList, _ in
            update(with: audioBufferList, asbd: asbd)
        }
    }

    private func update(with buffers: UnsafeMutableAudioBufferListPointer, asbd: AudioStreamBasicDescription) {
        let isFloat = asbd.mFormatFlags & kAudioFormatFlagIsFloat != 0
        var sumOfSquares: Double = 0
        var peak: Double = 0
        var count = 0
        for buffer in buffers {
            if isFloat && asbd.mBitsPerChannel == 32 {
                for sample in UnsafeBufferPointer<Float32>(buffer) {
                    sumOfSquares += Double(sample) * Double(sample)
                    peak = max(peak, abs(Double(sample)))
                    count += 1
                }
            } else if asbd.mBitsPerChannel == 16 {
                for sample in UnsafeBufferPointer<Int16>(buffer) {
                    let value = Double(sample) / Double(Int16.max)
                    sumOfSquares += value * value
                    peak = max(peak, abs(value))
                    count += 1
                }
            }
        }
        guard count > 0 else { return }
        let rms = sqrt(sumOfSquares / Double(count))
        averagePowerLevel = Float(20 * log10(max(rms, 1e-8)))
        peakLevel = Float(20 * log10(max(peak, 1e-8)))
    }
}
