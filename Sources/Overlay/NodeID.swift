import Crypto

/// A 160-bit identifier on the Chord ring: a Node-ID or a Resource-ID (seed 001 §5, SOSIMPLE).
///
/// Stored as three words, most significant first; arithmetic wraps modulo 2^160 so that
/// the identifier space is a ring, as Chord requires.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The top 32 bits.
    public var high: UInt32
    /// The middle 64 bits.
    public var middle: UInt64
    /// The low 64 bits.
    public var low: UInt64

    /// The number of bits in an identifier.
    public static let bitWidth = 160
    /// The number of bytes in an identifier's binary form.
    public static let byteCount = 20
    /// The identifier 0.
    public static let zero = NodeID(high: 0, middle: 0, low: 0)

    /// Creates an identifier from its three words.
    public init(high: UInt32, middle: UInt64, low: UInt64) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// Creates an identifier from 20 big-endian bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt32 = 0
        var middle: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            switch index {
            case 0..<4: high = high << 8 | UInt32(byte)
            case 4..<12: middle = middle << 8 | UInt64(byte)
            default: low = low << 8 | UInt64(byte)
            }
        }
        self.init(high: high, middle: middle, low: low)
    }

    /// The identifier written as 40 hex digits (its ``description``), in either case; nil for any other text.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 2 * NodeID.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(NodeID.byteCount)
        var high: UInt8?
        for character in hex.utf8 {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self.init(bytes: bytes)
    }

    /// The identifier that is the SHA-1 hash of `data` (seed 001: Node-ID = SHA-1 of the public key).
    public init(hashing data: [UInt8]) {
        let digest = Insecure.SHA1.hash(data: data)
        // A SHA-1 digest is always 20 bytes.
        self = NodeID(bytes: Array(digest)) ?? .zero
    }

    /// The 20 big-endian bytes of this identifier.
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(Self.byteCount)
        appendBytes(to: &result)
        return result
    }

    /// Appends the 20 big-endian bytes of this identifier to `buffer`.
    public func appendBytes(to buffer: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: high >> UInt32(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: middle >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: low >> UInt64(shift))) }
    }

    public var description: String {
        let hex = bytes.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }
        return hex.joined()
    }

    /// The first 8 hex digits, for logs and ring pictures.
    public var shortDescription: String { String(description.prefix(8)) }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        if lhs.middle != rhs.middle { return lhs.middle < rhs.middle }
        return lhs.low < rhs.low
    }

    /// Addition modulo 2^160.
    public static func &+ (lhs: NodeID, rhs: NodeID) -> NodeID {
        let (low, carryLow) = lhs.low.addingReportingOverflow(rhs.low)
        var (middle, carryMiddle) = lhs.middle.addingReportingOverflow(rhs.middle)
        if carryLow {
            let (m, c) = middle.addingReportingOverflow(1)
            middle = m
            carryMiddle = carryMiddle || c
        }
        let high = lhs.high &+ rhs.high &+ (carryMiddle ? 1 : 0)
        return NodeID(high: high, middle: middle, low: low)
    }

    /// Subtraction modulo 2^160.
    public static func &- (lhs: NodeID, rhs: NodeID) -> NodeID {
        let (low, borrowLow) = lhs.low.subtractingReportingOverflow(rhs.low)
        var (middle, borrowMiddle) = lhs.middle.subtractingReportingOverflow(rhs.middle)
        if borrowLow {
            let (m, b) = middle.subtractingReportingOverflow(1)
            middle = m
            borrowMiddle = borrowMiddle || b
        }
        let high = lhs.high &- rhs.high &- (borrowMiddle ? 1 : 0)
        return NodeID(high: high, middle: middle, low: low)
    }

    /// The clockwise distance from this identifier to `other` (0 when equal).
    public func distance(to other: NodeID) -> NodeID { other &- self }

    /// 2^exponent modulo 2^160, for exponent in 0..<160 (Chord finger start n + 2^i).
    public static func powerOfTwo(_ exponent: Int) -> NodeID {
        switch exponent {
        case 0..<64: return NodeID(high: 0, middle: 0, low: 1 << UInt64(exponent))
        case 64..<128: return NodeID(high: 0, middle: 1 << UInt64(exponent - 64), low: 0)
        case 128..<160: return NodeID(high: 1 << UInt32(exponent - 128), middle: 0, low: 0)
        default: return .zero
        }
    }

    /// 2^exponent for a fractional exponent in [0, 160), with 53 bits of precision.
    ///
    /// Used to space fingers evenly in log-distance when fewer fingers than bits are kept.
    public static func powerOfTwo(fractional exponent: Double) -> NodeID {
        guard exponent >= 0, exponent < 160 else { return .zero }
        let whole = Int(exponent.rounded(.down))
        let fraction = exponent - Double(whole)
        // mantissa in [2^52, 2^53): 2^fraction scaled by 2^52.
        let mantissa = UInt64((Double(1 << 52) * pow2(fraction)).rounded(.down))
        return NodeID(shifting: mantissa, by: whole - 52)
    }

    /// `value` shifted left (or right, if negative) by `shift` bits, modulo 2^160.
    init(shifting value: UInt64, by shift: Int) {
        if shift < 0 {
            self.init(high: 0, middle: 0, low: shift <= -64 ? 0 : value >> UInt64(-shift))
            return
        }
        // Place value in a 192-bit window [w2 w1 w0] then take the low 160 bits.
        var words: [UInt64] = [0, 0, 0]
        let wordShift = shift / 64
        let bitShift = UInt64(shift % 64)
        if wordShift < 3 { words[wordShift] = value << bitShift }
        if bitShift > 0, wordShift + 1 < 3 { words[wordShift + 1] = value >> (64 - bitShift) }
        self.init(high: UInt32(truncatingIfNeeded: words[2]), middle: words[1], low: words[0])
    }

    /// Whether this identifier lies in the ring interval (lower, upper) — open at both ends.
    ///
    /// When `lower == upper` the interval is the whole ring except that point.
    public func isBetween(_ lower: NodeID, _ upper: NodeID) -> Bool {
        if lower == upper { return self != lower }
        if lower < upper { return lower < self && self < upper }
        return self > lower || self < upper
    }

    /// Whether this identifier lies in the ring interval (lower, upper] (Chord's ownership test).
    ///
    /// When `lower == upper` the interval is the whole ring.
    public func isBetween(_ lower: NodeID, upperInclusive upper: NodeID) -> Bool {
        self == upper || isBetween(lower, upper)
    }

    /// A uniformly random identifier.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: UInt32.random(in: .min ... .max, using: &generator), middle: generator.next(), low: generator.next())
    }

    /// An approximation of the identifier as a fraction of the ring in [0, 1).
    public var ringFraction: Double {
        (Double(high) * 4_294_967_296.0 + Double(middle >> 32) + Double(middle & 0xffff_ffff) / 4_294_967_296.0) / 18_446_744_073_709_551_616.0
    }
}

/// 2^x for x in [0, 1) without Foundation.
@inline(__always)
func pow2(_ x: Double) -> Double {
    // exp(x·ln2) by its Taylor series; 20 terms are exact to double precision on [0, 1).
    let y = x * 0.693_147_180_559_945_309_4
    var term = 1.0
    var sum = 1.0
    for n in 1...20 {
        term *= y / Double(n)
        sum += term
    }
    return sum
}

/// The identifier of a resource: SHA-1 of its name (seed 001: Resource-ID = hash of the AoR).
public struct ResourceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The position of the resource on the ring.
    public var id: NodeID

    /// Creates the Resource-ID of `name` (SHA-1 of its UTF-8 bytes).
    public init(name: String) {
        id = NodeID(hashing: Array(name.utf8))
    }

    /// Wraps an existing ring position.
    public init(id: NodeID) {
        self.id = id
    }

    public var description: String { id.description }

    public static func < (lhs: ResourceID, rhs: ResourceID) -> Bool { lhs.id < rhs.id }
}
