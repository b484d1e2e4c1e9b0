// CMTime arithmetic, rounding, overflow and ordering as CMTime.h documents them.
import CaptureDeckAVFoundation
import Testing

@Suite struct CMTimeTests {
    @Test func makeAndSeconds() {
        let t = CMTimeMake(value: 1, timescale: 2)
        #expect(t.value == 1 && t.timescale == 2 && t.flags == .valid && t.epoch == 0)
        #expect(t.seconds == 0.5 && CMTimeGetSeconds(t) == 0.5)
        #expect(CMTimeMakeWithEpoch(value: 3, timescale: 4, epoch: 9).epoch == 9)
        #expect(CMTime(value: 48000, timescale: 48000) == CMTime.init(seconds: 1, preferredTimescale: 600))
        #expect(!CMTime().isValid && CMTime.zero.isNumeric && CMTime.zero.seconds == 0)
    }

    @Test func makeWithSecondsRoundsHalfAwayFromZeroAndMarksRounding() {
        let half = CMTimeMakeWithSeconds(0.5, preferredTimescale: 1)
        #expect(half.value == 1 && half.hasBeenRounded)
        #expect(CMTimeMakeWithSeconds(-0.5, preferredTimescale: 1).value == -1)
        // 200/600 reads back as exactly the Double 1.0/3: not rounded, by the header's definition.
        let third = CMTimeMakeWithSeconds(1.0 / 3, preferredTimescale: 600)
        #expect(third.value == 200 && third.timescale == 600 && !third.hasBeenRounded)
        let ms = CMTimeMakeWithSeconds(0.001, preferredTimescale: 600)
        #expect(ms.value == 1 && ms.hasBeenRounded)
        let exact = CMTimeMakeWithSeconds(2.5, preferredTimescale: 600)
        #expect(exact.value == 1500 && !exact.hasBeenRounded)
        #expect(!CMTimeMakeWithSeconds(.nan, preferredTimescale: 600).isValid)
        #expect(!CMTimeMakeWithSeconds(1, preferredTimescale: 0).isValid)
        #expect(CMTimeMakeWithSeconds(.infinity, preferredTimescale: 600).isPositiveInfinity)
        #expect(CMTimeMakeWithSeconds(-.infinity, preferredTimescale: 600).isNegativeInfinity)
        // 1e10 s at 1e9/s overflows Int64: the timescale halves to 5e8.
        let big = CMTimeMakeWithSeconds(1e10, preferredTimescale: 1_000_000_000)
        #expect(big.timescale == 500_000_000 && big.value == 5_000_000_000_000_000_000)
        #expect(CMTimeMakeWithSeconds(1e300, preferredTimescale: 600).isPositiveInfinity)
    }

    @Test func secondsOfNonNumericTimes() {
        #expect(CMTime.invalid.seconds.isNaN && CMTime.indefinite.seconds.isNaN)
        #expect(CMTime.positiveInfinity.seconds == .infinity && CMTime.negativeInfinity.seconds == -.infinity)
    }

    @Test func addKeepsTheTimescaleOrTakesTheLCM() {
        let a = CMTimeAdd(CMTime(value: 1, timescale: 600), CMTime(value: 1, timescale: 600))
        #expect(a.value == 2 && a.timescale == 600 && !a.hasBeenRounded)
        let b = CMTime(value: 1, timescale: 2) + CMTime(value: 1, timescale: 3)
        #expect(b.value == 5 && b.timescale == 6)
        let c = CMTime(value: 1, timescale: 48000) + CMTime(value: 1, timescale: 44100)
        #expect(c.timescale == 7_056_000 && c.value == 147 + 160 && !c.hasBeenRounded)
        // LCM of 2^31-1 (prime) and 2 exceeds kCMTimeMaxTimescale: max timescale, rounded.
        let d = CMTime(value: 1, timescale: 0x7FFF_FFFF) + CMTime(value: 1, timescale: 2)
        #expect(d.timescale == 0x7FFF_FFFF && d.hasBeenRounded)
        #expect(abs(d.seconds - (0.5 + 1 / 2_147_483_647.0)) < 1e-9)
        let e = CMTime(value: 5, timescale: 10) - CMTime(value: 1, timescale: 4)
        #expect(e.value == 5 && e.timescale == 20)
        // A rounded operand marks the result.
        #expect((CMTimeMakeWithSeconds(0.001, preferredTimescale: 600) + CMTime(value: 1, timescale: 600)).hasBeenRounded)
    }

    @Test func addHalvesTheTimescaleOnOverflowThenGivesInfinity() {
        let max = CMTime(value: .max, timescale: 1000)
        let sum = max + max
        #expect(sum.timescale == 500 && sum.value == .max && !sum.hasBeenRounded)
        #expect((CMTime(value: .max, timescale: 1) + CMTime(value: .max, timescale: 1)).isPositiveInfinity)
        #expect((CMTime(value: .min, timescale: 1) + CMTime(value: -1, timescale: 1)).isNegativeInfinity)
    }

    @Test func nonNumericOperandsFollowTheHeader() {
        let one = CMTime(value: 1, timescale: 1)
        #expect(!(CMTime.positiveInfinity + .negativeInfinity).isValid)
        #expect((CMTime.positiveInfinity + .positiveInfinity).isPositiveInfinity)
        #expect((CMTime.positiveInfinity + one).isPositiveInfinity)
        #expect((CMTime.negativeInfinity + .indefinite).isNegativeInfinity)
        #expect((CMTime.indefinite + one).isIndefinite)
        #expect(!(CMTime.invalid + one).isValid)
        #expect(!(CMTime.positiveInfinity - .positiveInfinity).isValid)
        #expect((CMTime.positiveInfinity - .negativeInfinity).isPositiveInfinity)
        #expect((one - .positiveInfinity).isNegativeInfinity)
    }

    @Test func epochsAddOnlyWithDurations() {
        let e3 = CMTimeMakeWithEpoch(value: 10, timescale: 1, epoch: 3)
        #expect(!(e3 + CMTimeMakeWithEpoch(value: 1, timescale: 1, epoch: 4)).isValid)
        #expect((e3 - CMTimeMakeWithEpoch(value: 4, timescale: 1, epoch: 3)).epoch == 0)
        let moved = e3 + CMTime(value: 2, timescale: 1)
        #expect(moved.epoch == 3 && moved.value == 12)
    }

    @Test func compareOrdersAllTimesAsDocumented() {
        let shuffled: [CMTime] = [.invalid, .positiveInfinity, CMTimeMakeWithEpoch(value: 0, timescale: 1, epoch: 1),
                                  .indefinite, CMTime(value: 1, timescale: 2), .negativeInfinity]
        let sorted = shuffled.sorted()
        #expect(sorted[0].isNegativeInfinity)
        #expect(sorted[1].value == 1 && sorted[1].epoch == 0)
        #expect(sorted[2].epoch == 1)
        #expect(sorted[3].isIndefinite && sorted[4].isPositiveInfinity && !sorted[5].isValid)
        #expect(CMTime(value: 1, timescale: 2) == CMTime(value: 2, timescale: 4))
        #expect(CMTimeCompare(CMTime(value: 1, timescale: 3), CMTime(value: 1, timescale: 2)) == -1)
        #expect(CMTimeCompare(.invalid, CMTime(value: 5, timescale: 3, flags: [], epoch: 0)) == 0)
        #expect(CMTimeMinimum(CMTime(value: 1, timescale: 3), CMTime(value: 1, timescale: 2)).timescale == 3)
        #expect(CMTimeMaximum(CMTime(value: 1, timescale: 3), .indefinite).isIndefinite)
        #expect(CMTimeAbsoluteValue(CMTime(value: -7, timescale: 3)).value == 7)
        #expect(CMTimeAbsoluteValue(.negativeInfinity).isPositiveInfinity)
    }

    @Test func convertScaleRoundsByEachMethod() {
        let third = CMTime(value: 1, timescale: 3), negThird = CMTime(value: -1, timescale: 3)
        let expected: [(CMTimeRoundingMethod, Int64, Int64)] = [
            (.roundHalfAwayFromZero, 3, -3), (.roundTowardZero, 3, -3), (.roundAwayFromZero, 4, -4),
            (.roundTowardPositiveInfinity, 4, -3), (.roundTowardNegativeInfinity, 3, -4), (.quickTime, 4, -4),
        ]
        for (method, pos, neg) in expected {
            let p = CMTimeConvertScale(third, timescale: 10, method: method)
            #expect(p.value == pos && p.timescale == 10 && p.hasBeenRounded, "\(method)")
            #expect(negThird.convertScale(10, method: method).value == neg, "\(method)")
        }
        #expect(CMTimeConvertScale(CMTime(value: 1, timescale: 6), timescale: 4, method: .default).value == 1)  // 0.667 -> 1
        #expect(CMTimeConvertScale(CMTime(value: 1, timescale: 8), timescale: 4, method: .default).value == 1)  // 0.5 -> 1
        // QuickTime never rounds a negative time to zero when losing precision.
        #expect(CMTimeConvertScale(CMTime(value: -1, timescale: 1000), timescale: 10, method: .quickTime).value == -1)
        let exact = CMTimeConvertScale(CMTime(value: 1, timescale: 2), timescale: 10, method: .default)
        #expect(exact.value == 5 && !exact.hasBeenRounded)
        #expect(CMTimeConvertScale(.positiveInfinity, timescale: 10, method: .default).isPositiveInfinity)
        #expect(CMTimeRoundingMethod.default == .roundHalfAwayFromZero && CMTimeRoundingMethod.quickTime.rawValue == 4)
    }

    @Test func multiplyKeepsTheRationalWhereItCan() {
        let m = CMTimeMultiply(CMTime(value: 1, timescale: 3), multiplier: 3)
        #expect(m.value == 3 && m.timescale == 3)
        #expect(CMTimeMultiply(.positiveInfinity, multiplier: -2).isNegativeInfinity)
        let f = CMTimeMultiplyByFloat64(CMTime(value: 1, timescale: 1), multiplier: 0.5)
        #expect(f.timescale == 65536 && f.value == 32768 && !f.hasBeenRounded)
        let r = CMTimeMultiplyByRatio(CMTime(value: 1000, timescale: 48000), multiplier: 1, divisor: 2)
        #expect(r.value == 500 && r.timescale == 48000)
        let r3 = CMTimeMultiplyByRatio(CMTime(value: 1, timescale: 48000), multiplier: 1, divisor: 3)
        #expect(r3.value == 1 && r3.timescale == 144_000 && !r3.hasBeenRounded)
        #expect(CMTimeMultiplyByRatio(CMTime(value: 1, timescale: 1), multiplier: 1, divisor: 0).isPositiveInfinity)
        #expect(!CMTimeMultiplyByRatio(CMTime(value: 0, timescale: 1), multiplier: 1, divisor: 0).isValid)
    }

    @Test func flagsAndMacrosHaveApplesBits() {
        #expect(CMTimeFlags.valid.rawValue == 1 && CMTimeFlags.hasBeenRounded.rawValue == 2)
        #expect(CMTimeFlags.positiveInfinity.rawValue == 4 && CMTimeFlags.negativeInfinity.rawValue == 8)
        #expect(CMTimeFlags.indefinite.rawValue == 16 && CMTimeFlags.impliedValueFlagsMask.rawValue == 28)
        #expect(kCMTimeMaxTimescale == 0x7FFF_FFFF)
        #expect(CMTIME_IS_VALID(.zero) && CMTIME_IS_INVALID(.invalid) && CMTIME_IS_INDEFINITE(.indefinite))
        #expect(CMTIME_IS_POSITIVEINFINITY(.positiveInfinity) && CMTIME_IS_NEGATIVEINFINITY(.negativeInfinity))
        #expect(CMTIME_IS_NUMERIC(.zero) && !CMTIME_IS_NUMERIC(.indefinite))
        // Implied-value flags without `valid` are not infinity: the time is invalid.
        #expect(!CMTime(value: 0, timescale: 0, flags: .positiveInfinity, epoch: 0).isPositiveInfinity)
    }
}
