// CMSampleBuffer, CMBlockBuffer, CMFormatDescription and AudioBufferList built from known PCM:
// sizes, timing, Apple's ASBD flags, the two-call AudioBufferList pattern, copies, and that the
// pointers handed out outlive the sample buffer while the block buffer is retained.
@testable import CaptureDeck
@testable import CaptureDeckAVFoundation
import CaptureCore
import Foundation
import Testing

/// Interleaved S16 frames whose samples are `frame * 10 + channel` (every value distinct).
func rampS16(frames: Int, channels: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for f in 0..<frames {
        for c in 0..<channels { withUnsafeBytes(of: Int16(f * 10 + c).littleEndian) { bytes += $0 } }
    }
    return bytes
}

func sampleBuffer(_ format: StreamFormat, bytes: [UInt8], startFrame: Int = 0, pts: CMTime = CMTime(value: 4800, timescale: 48000)) -> CMSampleBuffer {
    let audio = AudioSampleBuffer(format: format, startFrame: startFrame, frameCount: bytes.count / format.bytesPerFrame, bytes: bytes)
    return CMSampleBuffer(audio: audio, presentationTimeStamp: pts)
}

@Suite struct SampleBufferTests {
    let stereo16 = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    @Test func sizesTimingAndFormatOfKnownPCM() throws {
        let sbuf = sampleBuffer(stereo16, bytes: rampS16(frames: 480, channels: 2))
        #expect(CMSampleBufferGetNumSamples(sbuf) == 480 && sbuf.numSamples == 480)
        #expect(CMSampleBufferGetTotalSampleSize(sbuf) == 1920 && sbuf.totalSampleSize == 1920)
        #expect(CMSampleBufferGetSampleSize(sbuf, at: 0) == 4 && CMSampleBufferGetSampleSize(sbuf, at: 480) == 0)
        #expect(CMSampleBufferGetPresentationTimeStamp(sbuf) == CMTime(value: 4800, timescale: 48000))
        #expect(CMSampleBufferGetOutputPresentationTimeStamp(sbuf) == sbuf.presentationTimeStamp)
        #expect(!CMSampleBufferGetDecodeTimeStamp(sbuf).isValid)
        let d = CMSampleBufferGetDuration(sbuf)
        #expect(d.value == 480 && d.timescale == 48000 && d.seconds == 0.01 && sbuf.outputDuration == d)
        #expect(CMSampleBufferIsValid(sbuf) && CMSampleBufferDataIsReady(sbuf) && sbuf.isValid)
        let desc = try #require(CMSampleBufferGetFormatDescription(sbuf))
        #expect(CMFormatDescriptionGetMediaType(desc) == kCMMediaType_Audio && desc.mediaType == .audio)
        #expect(CMFormatDescriptionGetMediaSubType(desc) == kAudioFormatLinearPCM && desc.mediaSubType == .linearPCM)
        let asbd = try #require(CMAudioFormatDescriptionGetStreamBasicDescription(desc)).pointee
        #expect(asbd.mSampleRate == 48000 && asbd.mFormatID == kAudioFormatLinearPCM)
        #expect(asbd.mFormatFlags == kAudioFormatFlagIsSignedInteger | kAudioFormatFlagIsPacked)
        #expect(asbd.mBytesPerPacket == 4 && asbd.mFramesPerPacket == 1 && asbd.mBytesPerFrame == 4)
        #expect(asbd.mChannelsPerFrame == 2 && asbd.mBitsPerChannel == 16 && asbd.mReserved == 0)
        #expect(desc.audioStreamBasicDescription?.mBytesPerFrame == 4)
        #expect(CMBlockBufferGetDataLength(try #require(CMSampleBufferGetDataBuffer(sbuf))) == 1920)
    }

    @Test func flagsAreApplesForEachFormat() throws {
        let expected: [(SampleFormat, AudioFormatFlags, UInt32, UInt32)] = [
            (.s16LE, 0x4 | 0x8, 16, 2), (.s24_3LE, 0x4 | 0x8, 24, 3), (.s24LE, 0x4, 24, 4),
            (.s32LE, 0x4 | 0x8, 32, 4), (.floatLE, 0x1 | 0x8, 32, 4),
        ]
        for (sf, flags, bits, bytes) in expected {
            let format = StreamFormat(sampleFormat: sf, sampleRate: 44100, channels: 3)
            let sbuf = sampleBuffer(format, bytes: [UInt8](repeating: 0, count: format.bytesPerFrame * 10))
            let asbd = try #require(sbuf.formatDescription?.audioStreamBasicDescription)
            #expect(asbd.mFormatFlags == flags && asbd.mBitsPerChannel == bits && asbd.mBytesPerFrame == bytes * 3, "\(sf)")
            #expect(asbd.mFormatFlags & kAudioFormatFlagIsNonInterleaved == 0 && asbd.mFormatFlags & kAudioFormatFlagIsBigEndian == 0)
        }
        #expect(kAudioFormatFlagsNativeFloatPacked == 9)
        // Packed formats are what Core Audio's own helper describes.
        var fill = AudioStreamBasicDescription()
        FillOutASBDForLPCM(&fill, 44100, 3, 16, 16, false, false, false)
        let s16 = CMSampleBuffer.streamDescription(for: StreamFormat(sampleFormat: .s16LE, sampleRate: 44100, channels: 3))
        #expect(fill.mFormatFlags == s16.mFormatFlags && fill.mBytesPerFrame == s16.mBytesPerFrame && fill.mBitsPerChannel == 16)
        FillOutASBDForLPCM(&fill, 44100, 3, 32, 32, true, false, false)
        #expect(fill.mFormatFlags == kAudioFormatFlagsNativeFloatPacked)
    }

    @Test func twoCallAudioBufferListPattern() throws {
        let bytes = rampS16(frames: 480, channels: 2)
        let sbuf = sampleBuffer(stereo16, bytes: bytes)
        var needed = 0
        #expect(CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sbuf, bufferListSizeNeededOut: &needed, bufferListOut: nil, bufferListSize: 0,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: nil, flags: 0, blockBufferOut: nil) == noErr)
        #expect(needed == MemoryLayout<AudioBufferList>.size && needed == AudioBufferList.sizeInBytes(maximumBuffers: 1))
        let raw = try #require(malloc(needed))
        defer { free(raw) }
        let list = raw.bindMemory(to: AudioBufferList.self, capacity: 1)
        var block: CMBlockBuffer?
        #expect(CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sbuf, bufferListSizeNeededOut: nil, bufferListOut: list, bufferListSize: needed - 1,
            blockBufferAllocator: kCFAllocatorDefault, blockBufferMemoryAllocator: kCFAllocatorDefault,
            flags: 0, blockBufferOut: &block) == kCMSampleBufferError_ArrayTooSmall)
        #expect(CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sbuf, bufferListSizeNeededOut: nil, bufferListOut: list, bufferListSize: needed,
            blockBufferAllocator: kCFAllocatorDefault, blockBufferMemoryAllocator: kCFAllocatorDefault,
            flags: kCMSampleBufferFlag_AudioBufferList_Assure16ByteAlignment, blockBufferOut: &block) == noErr)
        let buffers = UnsafeMutableAudioBufferListPointer(list)
        #expect(buffers.count == 1 && buffers[0].mNumberChannels == 2 && buffers[0].mDataByteSize == 1920)
        let data = try #require(buffers[0].mData)
        #expect(Int(bitPattern: data) % 16 == 0)
        #expect(Array(UnsafeRawBufferPointer(start: data, count: 1920)) == bytes)
        #expect(try #require(block).dataLength == 1920)
        let samples = UnsafeBufferPointer<Int16>(buffers[0])
        #expect(samples.count == 960 && samples[2 * 123 + 1] == 1231)
    }

    @Test func pointersOutliveTheSampleBufferWhileTheBlockBufferIsRetained() throws {
        let bytes = rampS16(frames: 256, channels: 2)
        var sbuf: CMSampleBuffer? = sampleBuffer(stereo16, bytes: bytes)
        weak let weakSbuf = sbuf
        var list = AudioBufferList()
        var block: CMBlockBuffer?
        #expect(CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sbuf!, bufferListSizeNeededOut: nil, bufferListOut: &list, bufferListSize: MemoryLayout<AudioBufferList>.size,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: nil, flags: 0, blockBufferOut: &block) == noErr)
        let desc = try #require(sbuf!.formatDescription)
        let asbd = try #require(CMAudioFormatDescriptionGetStreamBasicDescription(desc))
        sbuf = nil
        #expect(weakSbuf == nil, "the sample buffer must really be gone for this test to prove anything")
        // The block buffer the caller retained keeps the bytes; the description keeps its ASBD.
        #expect(Array(UnsafeRawBufferPointer(start: list.mBuffers.mData, count: Int(list.mBuffers.mDataByteSize))) == bytes)
        #expect(asbd.pointee.mChannelsPerFrame == 2 && asbd.pointee.mBitsPerChannel == 16)
        var pointer: UnsafeMutablePointer<Int8>?
        #expect(CMBlockBufferGetDataPointer(block!, atOffset: 0, lengthAtOffsetOut: nil, totalLengthOut: nil, dataPointerOut: &pointer) == noErr)
        #expect(UnsafeMutableRawPointer(pointer!) == list.mBuffers.mData)
    }

    @Test func swiftEraWithAudioBufferList() throws {
        let bytes = rampS16(frames: 100, channels: 2)
        let sbuf = sampleBuffer(stereo16, bytes: bytes)
        let sum = try sbuf.withAudioBufferList { list, block in
            #expect(block.dataLength == 400 && list.count == 1)
            return list.reduce(0) { acc, buffer in acc + UnsafeBufferPointer<Int16>(buffer).reduce(0) { $0 + Int($1) } }
        }
        // Sum of f*10+c over 100 frames, 2 channels.
        #expect(sum == (0..<100).reduce(0) { $0 + 2 * $1 * 10 + 1 })
    }

    @Test func blockBufferFunctionsAndMembers() throws {
        let bytes = rampS16(frames: 16, channels: 2)
        let block = try #require(sampleBuffer(stereo16, bytes: bytes).dataBuffer)
        var out = [UInt8](repeating: 0, count: 8)
        #expect(CMBlockBufferCopyDataBytes(block, atOffset: 4, dataLength: 8, destination: &out) == kCMBlockBufferNoErr)
        #expect(out == Array(bytes[4..<12]))
        #expect(CMBlockBufferCopyDataBytes(block, atOffset: 64, dataLength: 1, destination: &out) == kCMBlockBufferBadOffsetParameterErr)
        #expect(CMBlockBufferCopyDataBytes(block, atOffset: 0, dataLength: 0, destination: &out) == kCMBlockBufferBadLengthParameterErr)
        #expect(CMBlockBufferCopyDataBytes(block, atOffset: 60, dataLength: 8, destination: &out) == kCMBlockBufferBadLengthParameterErr)
        var atOffset = 0, total = 0
        var pointer: UnsafeMutablePointer<Int8>?
        #expect(CMBlockBufferGetDataPointer(block, atOffset: 10, lengthAtOffsetOut: &atOffset, totalLengthOut: &total, dataPointerOut: &pointer) == noErr)
        #expect(atOffset == 54 && total == 64 && UInt8(bitPattern: pointer![0]) == bytes[10])
        #expect(CMBlockBufferGetDataPointer(block, atOffset: 64, lengthAtOffsetOut: nil, totalLengthOut: nil, dataPointerOut: &pointer) == kCMBlockBufferBadOffsetParameterErr)
        #expect(CMBlockBufferIsRangeContiguous(block, atOffset: 0, length: 64) && !CMBlockBufferIsRangeContiguous(block, atOffset: 1, length: 64))
        var copy = [UInt8](repeating: 0, count: 64)
        try copy.withUnsafeMutableBytes { try block.copyDataBytes(to: $0) }
        let data = try block.dataBytes()
        let tail = try block.withUnsafeMutableBytes(atOffset: 2) { Array($0) }
        #expect(copy == bytes && Array(data) == bytes)
        #expect(tail == Array(bytes[2...]))
        do {
            _ = try block.dataBytes(fromOffset: 65)
            Issue.record("an offset past the end was accepted")
        } catch {
            #expect((error as NSError).code == Int(kCMBlockBufferBadOffsetParameterErr))
        }
        #expect(!block.isEmpty && block.dataLength == 64 && !CMBlockBufferIsEmpty(block))
    }

    @Test func copyPCMDataInterleavedAndDeinterleaved() throws {
        let bytes = rampS16(frames: 64, channels: 2)
        let sbuf = sampleBuffer(stereo16, bytes: bytes)
        var interleaved = [Int16](repeating: 0, count: 20)
        try interleaved.withUnsafeMutableBufferPointer { p in
            var list = AudioBufferList(mNumberBuffers: 1, mBuffers: AudioBuffer(p, numberOfChannels: 2))
            #expect(CMSampleBufferCopyPCMDataIntoAudioBufferList(sbuf, at: 10, frameCount: 10, into: &list) == noErr)
            #expect(list.mBuffers.mDataByteSize == 40)
            #expect(CMSampleBufferCopyPCMDataIntoAudioBufferList(sbuf, at: 60, frameCount: 10, into: &list) == kCMSampleBufferError_SampleIndexOutOfRange)
            #expect(CMSampleBufferCopyPCMDataIntoAudioBufferList(sbuf, at: 0, frameCount: 11, into: &list) == kCMSampleBufferError_ArrayTooSmall)
            list.mBuffers.mDataByteSize = 40
            try sbuf.copyPCMData(fromRange: 10..<20, into: &list)
        }
        let expected: [Int16] = (10..<20).flatMap { (f: Int) -> [Int16] in [Int16(f * 10), Int16(f * 10 + 1)] }
        #expect(interleaved == expected)
        // One buffer per channel: deinterleaved.
        let left = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 64), right = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 64)
        defer { left.deallocate(); right.deallocate() }
        let list = AudioBufferList.allocate(maximumBuffers: 2)
        defer { free(list.unsafeMutablePointer) }
        list[0] = AudioBuffer(left, numberOfChannels: 1)
        list[1] = AudioBuffer(right, numberOfChannels: 1)
        #expect(CMSampleBufferCopyPCMDataIntoAudioBufferList(sbuf, at: 0, frameCount: 64, into: list.unsafeMutablePointer) == noErr)
        #expect(Array(left) == (0..<64).map { Int16($0 * 10) } && Array(right) == (0..<64).map { Int16($0 * 10 + 1) })
        list[1].mNumberChannels = 2
        #expect(CMSampleBufferCopyPCMDataIntoAudioBufferList(sbuf, at: 0, frameCount: 1, into: list.unsafeMutablePointer) == kCMSampleBufferError_InvalidMediaFormat)
    }

    @Test func audioBufferListHasCsLayout() {
        // C: UInt32 count, 4 bytes of padding, then 16-byte AudioBuffers.
        #expect(MemoryLayout<AudioBuffer>.size == 16 && MemoryLayout<AudioBufferList>.size == 24)
        #expect(MemoryLayout<AudioBufferList>.offset(of: \.mBuffers) == 8)
        #expect(AudioBufferList.sizeInBytes(maximumBuffers: 3) == 56)
        #expect(MemoryLayout<AudioStreamBasicDescription>.size == 40)
        let list = AudioBufferList.allocate(maximumBuffers: 3)
        defer { free(list.unsafeMutablePointer) }
        #expect(list.count == 3 && list.allSatisfy { $0.mData == nil && $0.mDataByteSize == 0 })
        for i in 0..<3 { list[i] = AudioBuffer(mNumberChannels: UInt32(i + 1), mDataByteSize: UInt32(100 * i), mData: nil) }
        let raw = UnsafeRawPointer(list.unsafePointer)
        for i in 0..<3 {
            #expect(raw.load(fromByteOffset: 8 + 16 * i, as: UInt32.self) == UInt32(i + 1))
            #expect(raw.load(fromByteOffset: 12 + 16 * i, as: UInt32.self) == UInt32(100 * i))
        }
        #expect(UnsafeMutableAudioBufferListPointer(nil as UnsafeMutablePointer<AudioBufferList>?) == nil)
    }

    @Test func framesBeyondTheBytesAreNotClaimed() {
        // A frame count larger than the bytes carry: only whole frames present are described.
        let audio = AudioSampleBuffer(format: stereo16, startFrame: 0, frameCount: 100, bytes: [UInt8](repeating: 1, count: 42))
        let sbuf = CMSampleBuffer(audio: audio, presentationTimeStamp: .zero)
        #expect(sbuf.numSamples == 10 && sbuf.totalSampleSize == 40 && sbuf.dataBuffer?.dataLength == 40)
    }
}
