/// Where encoded bytes go: a real buffer, or a counter that only measures the size.
///
/// One `write(to:)` per type serves both, so the byte counts reported by the simulator are
/// exactly the sizes of the encoded messages.
public protocol OverlayByteSink {
    /// Appends one byte.
    mutating func write(byte: UInt8)
    /// Appends bytes.
    mutating func write(bytes: [UInt8])
}

extension Array: OverlayByteSink where Element == UInt8 {
    public mutating func write(byte: UInt8) { append(byte) }
    public mutating func write(bytes: [UInt8]) { append(contentsOf: bytes) }
}

/// A sink that only counts bytes.
public struct OverlayByteCounter: OverlayByteSink {
    /// The bytes written so far.
    public var count = 0
    /// Creates an empty counter.
    public init() {}
    public mutating func write(byte: UInt8) { count += 1 }
    public mutating func write(bytes: [UInt8]) { count += bytes.count }
}

extension OverlayByteSink {
    /// LEB128 unsigned varint.
    mutating func write(varint value: UInt64) {
        var value = value
        while value >= 0x80 {
            write(byte: UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        write(byte: UInt8(value))
    }

    mutating func write(id: NodeID) {
        for shift in stride(from: 24, through: 0, by: -8) { write(byte: UInt8(truncatingIfNeeded: id.high >> UInt32(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { write(byte: UInt8(truncatingIfNeeded: id.middle >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { write(byte: UInt8(truncatingIfNeeded: id.low >> UInt64(shift))) }
    }

    mutating func write(lengthPrefixed bytes: [UInt8]) {
        write(varint: UInt64(bytes.count))
        write(bytes: bytes)
    }

    mutating func write(string: String) {
        var string = string
        string.withUTF8 { buffer in
            write(varint: UInt64(buffer.count))
            for byte in buffer { write(byte: byte) }
        }
    }
}

/// Reads the encoding written by ``OverlayByteSink``; every read checks bounds and throws
/// ``OverlayError/Code/malformedMessage`` rather than trapping on hostile input.
struct OverlayByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readByte() throws(OverlayError) -> UInt8 {
        guard offset < bytes.count else { throw OverlayError(.malformedMessage, "message ends early at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readVarint() throws(OverlayError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            guard shift < 64 else { throw OverlayError(.malformedMessage, "varint longer than 64 bits at byte \(offset)") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func readCount(limit: Int) throws(OverlayError) -> Int {
        let value = try readVarint()
        guard value <= UInt64(limit) else {
            throw OverlayError(.malformedMessage, "count \(value) exceeds the limit \(limit) at byte \(offset)")
        }
        return Int(value)
    }

    mutating func readBytes(count: Int) throws(OverlayError) -> [UInt8] {
        guard count <= bytes.count - offset else {
            throw OverlayError(.malformedMessage, "needs \(count) bytes at byte \(offset), only \(bytes.count - offset) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readLengthPrefixed(limit: Int) throws(OverlayError) -> [UInt8] {
        let count = try readCount(limit: limit)
        return try readBytes(count: count)
    }

    mutating func readString(limit: Int) throws(OverlayError) -> String {
        let raw = try readLengthPrefixed(limit: limit)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw OverlayError(.malformedMessage, "string is not UTF-8 before byte \(offset)")
        }
        return string
    }

    mutating func readID() throws(OverlayError) -> NodeID {
        let raw = try readBytes(count: NodeID.byteCount)
        guard let id = NodeID(bytes: raw) else { throw OverlayError(.malformedMessage, "bad identifier at byte \(offset)") }
        return id
    }
}
