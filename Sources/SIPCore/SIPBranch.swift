/// Via branch parameters that identify transactions (RFC 3261 §8.1.1.7).
public enum SIPBranch {
    /// The prefix that marks an RFC 3261 branch (§8.1.1.7).
    public static let magicCookie = "z9hG4bK"

    /// How many random characters follow the cookie (36^16 ≈ 2^82 values).
    public static let randomLength = 16

    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    /// A new branch, unique in space and time with overwhelming probability (§8.1.1.7).
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    /// A new branch drawn from `generator`; tests pass a seeded generator for repeatable output.
    public static func make(using generator: inout some RandomNumberGenerator) -> String {
        var bytes = Array(magicCookie.utf8)
        bytes.reserveCapacity(bytes.count + randomLength)
        for _ in 0..<randomLength {
            bytes.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
