/// The CSeq header value: a sequence number and a method (RFC 3261 §20.16, §8.1.1.5).
public struct SIPCSeq: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The sequence number, a 32-bit unsigned integer (RFC 3261 §8.1.1.5).
    public var sequence: UInt32
    public var method: SIPMethod

    public init(sequence: UInt32, method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    /// Parses `1*DIGIT LWS Method`; `nil` when malformed or when the number does not fit 32 bits.
    public init?(_ value: String) {
        guard let cseq = Self.parse(Array(value.utf8)[...]) else { return nil }
        self = cseq
    }

    /// `"4711 INVITE"`.
    public var description: String { "\(sequence) \(method.rawValue)" }

    static func parse<B: SIPByteSlice>(_ bytes: B) -> SIPCSeq? {
        let trimmed = SIPGrammar.trimmed(bytes)
        var i = trimmed.startIndex
        while i < trimmed.endIndex && SIPGrammar.isDigit(trimmed[i]) { i += 1 }
        guard let number = SIPGrammar.parseInt(trimmed[trimmed.startIndex..<i], max: Int(UInt32.max)) else { return nil }
        let methodStart = SIPGrammar.skipWhitespace(trimmed, from: i)
        guard methodStart > i else { return nil }
        let method = trimmed[methodStart...]
        guard SIPGrammar.isToken(method) else { return nil }
        return SIPCSeq(sequence: UInt32(number), method: SIPMethod(SIPGrammar.string(method)))
    }
}
