import Overlay

/// The compact binary form shared by certificates, tokens, revocations and statements: bytes,
/// big-endian integers and length-prefixed fields, so that signatures cover exact bytes.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func instant(_ value: OverlayInstant) { uint64(UInt64(bitPattern: value.milliseconds)) }

    /// A field of at most 65535 bytes, prefixed by its 2-byte length.
    mutating func field(_ value: [UInt8]) {
        let count = min(value.count, Int(UInt16.max))
        bytes.append(UInt8(count >> 8))
        bytes.append(UInt8(count & 0xff))
        bytes.append(contentsOf: value.prefix(count))
    }

    mutating func string(_ value: String) { field(Array(value.utf8)) }

    mutating func list<T>(_ values: [T], _ write: (inout WireWriter, T) -> Void) {
        byte(UInt8(min(values.count, 255)))
        for value in values.prefix(255) { write(&self, value) }
    }
}

/// Reads what ``WireWriter`` wrote; every failure names the part being read (`what`).
struct WireReader {
    let bytes: [UInt8]
    var offset = 0
    /// The name of the object being read, for messages (e.g. `member certificate`).
    let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte(_ part: String) throws(CommunityError) -> UInt8 {
        guard offset < bytes.count else { throw truncated(part) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint64(_ part: String) throws(CommunityError) -> UInt64 {
        guard bytes.count - offset >= 8 else { throw truncated(part) }
        var value: UInt64 = 0
        for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
        offset += 8
        return value
    }

    mutating func instant(_ part: String) throws(CommunityError) -> OverlayInstant {
        OverlayInstant(milliseconds: Int64(bitPattern: try uint64(part)))
    }

    mutating func field(_ part: String, exactly: Int? = nil, limit: Int = 4096) throws(CommunityError) -> [UInt8] {
        let high = Int(try byte(part))
        let count = high << 8 | Int(try byte(part))
        if let exactly, count != exactly {
            throw CommunityError.malformed("\(what) \(part)", "expected \(exactly) bytes, found \(count)")
        }
        guard count <= limit else { throw CommunityError.malformed("\(what) \(part)", "\(count) bytes exceeds the limit of \(limit)") }
        guard bytes.count - offset >= count else { throw truncated(part) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func string(_ part: String, limit: Int = 1024) throws(CommunityError) -> String {
        let raw = try field(part, limit: limit)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw CommunityError.malformed("\(what) \(part)", "not UTF-8")
        }
        return text
    }

    mutating func list<T>(_ part: String, limit: Int, _ read: (inout WireReader) throws(CommunityError) -> T) throws(CommunityError) -> [T] {
        let count = Int(try byte(part))
        guard count <= limit else { throw CommunityError.malformed("\(what) \(part)", "\(count) entries exceeds the limit of \(limit)") }
        var result: [T] = []
        for _ in 0..<count { result.append(try read(&self)) }
        return result
    }

    /// Reads the version byte; a version other than `supported` is a ``CommunityError/Code/wrongVersion``.
    mutating func version(supported: UInt8 = 1) throws(CommunityError) {
        let version = try byte("version")
        guard version == supported else {
            throw CommunityError(.wrongVersion, "\(what) version \(version) is not supported; this node reads version \(supported)")
        }
    }

    /// Reads a 32-byte community ID field.
    mutating func communityID() throws(CommunityError) -> CommunityID {
        guard let id = CommunityID(bytes: try field("community ID", exactly: 32)) else {
            throw CommunityError.malformed("\(what) community ID", "not 32 bytes")
        }
        return id
    }

    func expectEnd() throws(CommunityError) {
        guard isAtEnd else {
            throw CommunityError.malformed(what, "\(bytes.count - offset) unexpected bytes after the last field")
        }
    }

    private func truncated(_ part: String) -> CommunityError {
        CommunityError.malformed("\(what) \(part)", "truncated at byte \(offset) of \(bytes.count)")
    }
}

/// URL-safe base64 without padding (RFC 4648 §5), the text form of tokens and header values.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let lookup: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = Int8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let n = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it holds a character outside the alphabet or has an impossible length.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in input {
            let value = lookup[Int(character)]
            guard value >= 0 else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}

/// Lower-case hexadecimal text of bytes.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The bytes of lower- or upper-case hexadecimal text; nil for anything else.
func decodeHex(_ text: some StringProtocol) -> [UInt8]? {
    let input = Array(text.utf8)
    guard input.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    var index = 0
    while index < input.count {
        guard let high = nibble(input[index]), let low = nibble(input[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

/// A signed object in the wire form: its fields (``writeUnsigned(to:)``) followed by the signature, which
/// covers a domain tag and the fields, so a signature for one kind of object never verifies as another.
protocol SignedWireObject {
    /// The domain tag prefixed to the signed bytes, e.g. `smf-member-cert-v1`.
    static var signatureDomain: String { get }
    /// The signature over ``wireSignedBytes``.
    var signature: [UInt8] { get }
    /// Writes every field but the signature.
    func writeUnsigned(to writer: inout WireWriter)
}

extension SignedWireObject {
    /// The bytes the signature covers.
    var wireSignedBytes: [UInt8] {
        var writer = WireWriter()
        writer.bytes = Array(Self.signatureDomain.utf8)
        writeUnsigned(to: &writer)
        return writer.bytes
    }

    /// The fields followed by the signature.
    var wireEncoded: [UInt8] {
        var writer = WireWriter()
        writeUnsigned(to: &writer)
        writer.field(signature)
        return writer.bytes
    }
}
