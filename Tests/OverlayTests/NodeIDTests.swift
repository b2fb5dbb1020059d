import Overlay
import Testing

@Suite struct NodeIDTests {
    @Test func additionAndSubtractionWrapAroundTheRing() {
        let top = NodeID(high: .max, middle: .max, low: .max)
        let one = NodeID(high: 0, middle: 0, low: 1)
        #expect(top &+ one == .zero)
        #expect(NodeID.zero &- one == top)
        let carry = NodeID(high: 0, middle: 0, low: .max) &+ one
        #expect(carry == NodeID(high: 0, middle: 1, low: 0))
        let borrow = NodeID(high: 1, middle: 0, low: 0) &- one
        #expect(borrow == NodeID(high: 0, middle: .max, low: .max))
    }

    @Test func distanceIsClockwise() {
        let a = NodeID(high: 0, middle: 0, low: 10)
        let b = NodeID(high: 0, middle: 0, low: 30)
        #expect(a.distance(to: b) == NodeID(high: 0, middle: 0, low: 20))
        #expect(b.distance(to: a) == NodeID.zero &- NodeID(high: 0, middle: 0, low: 20))
    }

    @Test func intervalsHandleWrapAndInclusiveUpperBound() {
        let low = NodeID(high: 10, middle: 0, low: 0)
        let high = NodeID(high: 20, middle: 0, low: 0)
        let inside = NodeID(high: 15, middle: 0, low: 0)
        let outside = NodeID(high: 25, middle: 0, low: 0)
        #expect(inside.isBetween(low, high))
        #expect(!outside.isBetween(low, high))
        #expect(!high.isBetween(low, high))
        #expect(high.isBetween(low, upperInclusive: high))
        #expect(!low.isBetween(low, upperInclusive: high))
        // Wrapping interval (high, low): contains 25 and 5, not 15.
        #expect(outside.isBetween(high, low))
        #expect(NodeID(high: 5, middle: 0, low: 0).isBetween(high, low))
        #expect(!inside.isBetween(high, low))
        // A degenerate interval (x, x] is the whole ring, (x, x) all but x.
        #expect(inside.isBetween(low, upperInclusive: low))
        #expect(!low.isBetween(low, low))
    }

    @Test func powersOfTwoLandInTheRightWord() {
        #expect(NodeID.powerOfTwo(0) == NodeID(high: 0, middle: 0, low: 1))
        #expect(NodeID.powerOfTwo(64) == NodeID(high: 0, middle: 1, low: 0))
        #expect(NodeID.powerOfTwo(159) == NodeID(high: 1 << 31, middle: 0, low: 0))
        #expect(NodeID.powerOfTwo(fractional: 159) == NodeID.powerOfTwo(159))
        #expect(NodeID.powerOfTwo(fractional: 100) == NodeID.powerOfTwo(100))
        let between = NodeID.powerOfTwo(fractional: 100.5)
        #expect(between > NodeID.powerOfTwo(100) && between < NodeID.powerOfTwo(101))
        #expect(abs(between.ringFraction / NodeID.powerOfTwo(100).ringFraction - 2.0.squareRoot()) < 1e-9)
    }

    @Test func bytesRoundTripBigEndian() {
        let bytes: [UInt8] = (1...20).map { UInt8($0) }
        let id = NodeID(bytes: bytes)
        #expect(id?.bytes == bytes)
        #expect(id?.high == 0x0102_0304)
        #expect(NodeID(bytes: [1, 2, 3]) == nil)
    }

    @Test func resourceIDIsSHA1OfTheName() {
        // SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d
        #expect(ResourceID(name: "abc").description == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
