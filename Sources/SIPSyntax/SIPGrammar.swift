/// Byte classes and small scanning helpers for the SIP grammar (RFC 3261 §25.1).
///
/// Everything here works on UTF-8 bytes, never on `Character`s, so the typed header views stay
/// cheap and behave identically for any input.
enum SIPGrammar {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let lessThan: UInt8 = 0x3C
    static let greaterThan: UInt8 = 0x3E
    static let slash: UInt8 = 0x2F
    static let at: UInt8 = 0x40
    static let question: UInt8 = 0x3F
    static let ampersand: UInt8 = 0x26
    static let percent: UInt8 = 0x25
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29
    static let delete: UInt8 = 0x7F

    /// SP, HTAB, CR or LF: linear white space once folding has been undone (RFC 3261 §25.1 LWS).
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || byte == cr || byte == lf
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    @inline(__always)
    static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    @inline(__always)
    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
    }

    /// `token` characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
    /// (RFC 3261 §25.1).
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x2D, 0x2E, 0x21, 0x25, 0x2A, 0x5F, 0x2B, 0x60, 0x27, 0x7E: return true  // - . ! % * _ + ` ' ~
        default: return false
        }
    }

    /// Whether every byte is a `token` character and there is at least one.
    static func isToken<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenChar)
    }

    /// Characters that may appear unescaped in a SIP URI outside user/password (reserved, unreserved,
    /// escapes and brackets; RFC 3261 §25.1). Controls, space, `"`, `<`, `>`, `\`, `{`, `}`, `|`, `^`
    /// and non-ASCII bytes are not allowed.
    static func isURIChar(_ byte: UInt8) -> Bool {
        guard byte > 0x20 && byte < 0x7F else { return false }
        switch byte {
        case quote, lessThan, greaterThan, backslash, 0x7B, 0x7D, 0x7C, 0x5E, 0x60: return false
        default: return true
        }
    }

    /// A character RFC 3261 §25.1 does not allow where it was found in a header value.
    enum ControlProblem: String, CustomStringConvertible {
        /// A CR not followed by LF: CR is only allowed as part of a CRLF line end (§7.3.1).
        case bareCR = "bare CR"
        /// %x00-08, %x0B-0C, %x0E-1F or %x7F outside a quoted-pair.
        case control = "control character"

        var description: String { rawValue }
    }

    /// The first control character a header value may not contain, or `nil` when it has none.
    ///
    /// `raw` is the value as received, over all its lines (their CRLF or LF line ends included).
    /// RFC 3261 §25.1 builds header values from TEXT-UTF8, LWS, quoted-string and comment: HTAB is
    /// the only control character they allow, except that a quoted-pair inside a quoted-string or a
    /// comment may escape any octet other than CR and LF (RFC 4475 §3.1.1.2 escapes NUL, BEL and DEL
    /// that way in a display name). A CR must be followed by LF.
    static func controlProblem<B: SIPByteSlice>(inValue raw: B) -> ControlProblem? {
        var inQuote = false
        var commentDepth = 0
        var i = raw.startIndex
        while i < raw.endIndex {
            let byte = raw[i]
            switch byte {
            case cr:
                guard i + 1 < raw.endIndex, raw[i + 1] == lf else { return .bareCR }
                i += 1
            case backslash where inQuote || commentDepth > 0:
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                if i + 1 < raw.endIndex && raw[i + 1] != cr && raw[i + 1] != lf { i += 1 }
            case quote where commentDepth == 0:
                inQuote.toggle()
            case openParen where !inQuote:
                commentDepth += 1
            case closeParen where !inQuote && commentDepth > 0:
                commentDepth -= 1
            case lf, tab:
                break
            default:
                if byte < space || byte == delete { return .control }
            }
            i += 1
        }
        return nil
    }

    /// The index after leading white space.
    static func skipWhitespace<B: SIPByteSlice>(_ bytes: B, from index: Int) -> Int {
        var i = index
        while i < bytes.endIndex && isWhitespace(bytes[i]) { i += 1 }
        return i
    }

    /// The slice without leading and trailing white space.
    static func trimmed<B: SIPByteSlice>(_ bytes: B) -> B {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end && isWhitespace(bytes[start]) { start += 1 }
        while end > start && isWhitespace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    /// Makes a `String` from UTF-8 bytes (invalid sequences become U+FFFD).
    @inline(__always)
    static func string<C: Collection<UInt8>>(_ bytes: C) -> String {
        bytes.withContiguousStorageIfAvailable { String(decoding: $0, as: UTF8.self) }
            ?? String(decoding: bytes, as: UTF8.self)
    }

    /// Index of the closing quote of a quoted-string whose opening quote is at `open`, honouring
    /// `\` escapes (RFC 3261 §25.1 quoted-pair); `nil` when it is not closed.
    static func closingQuote<B: SIPByteSlice>(_ bytes: B, openingAt open: Int) -> Int? {
        var i = open + 1
        while i < bytes.endIndex {
            switch bytes[i] {
            case backslash: i += 2
            case quote: return i
            default: i += 1
            }
        }
        return nil
    }

    /// Splits at `separator` bytes that are outside quoted strings and (optionally) outside `<...>`.
    /// Returns `nil` when a quoted string or angle bracket is not closed.
    static func split<B: SIPByteSlice>(
        _ bytes: B, separator: UInt8, respectingAngles: Bool = true
    ) -> [B]? {
        var parts: [B] = []
        var start = bytes.startIndex
        var i = bytes.startIndex
        var inAngles = false
        while i < bytes.endIndex {
            let byte = bytes[i]
            if byte == quote && !inAngles {
                guard let close = closingQuote(bytes, openingAt: i) else { return nil }
                i = close + 1
                continue
            }
            if respectingAngles {
                if byte == lessThan { inAngles = true } else if byte == greaterThan { inAngles = false }
            }
            if byte == separator && !inAngles {
                parts.append(bytes[start..<i])
                start = i + 1
            }
            i += 1
        }
        if inAngles { return nil }
        parts.append(bytes[start..<bytes.endIndex])
        return parts
    }

    /// The next part of a list split at `separator` outside quoted strings and `<...>`, starting at
    /// `from`: the part and the index after its separator (`endIndex + 1` after the last part).
    /// `nil` when a quoted string or angle bracket is not closed.
    static func nextPart<B: SIPByteSlice>(_ bytes: B, from: Int, separator: UInt8) -> (part: B, next: Int)? {
        var i = from
        var inAngles = false
        while i < bytes.endIndex {
            let byte = bytes[i]
            if byte == quote && !inAngles {
                guard let close = closingQuote(bytes, openingAt: i) else { return nil }
                i = close + 1
                continue
            }
            if byte == lessThan {
                inAngles = true
            } else if byte == greaterThan {
                inAngles = false
            } else if byte == separator && !inAngles {
                return (bytes[from..<i], i + 1)
            }
            i += 1
        }
        if inAngles { return nil }
        return (bytes[from..<bytes.endIndex], bytes.endIndex + 1)
    }

    /// Parses a non-negative decimal integer made only of digits, rejecting overflow.
    static func parseInt<C: Collection<UInt8>>(_ bytes: C, max: Int = Int.max) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value = 0
        for byte in bytes {
            guard isDigit(byte) else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(byte - 0x30))
            if o1 || o2 { return nil }
            value = s
        }
        return value <= max ? value : nil
    }

    /// Decodes `%XX` escapes (RFC 3261 §19.1.2); `nil` if an escape is malformed.
    static func percentDecoded(_ string: String) -> String? {
        guard string.utf8.contains(percent) else { return string }
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        let bytes = Array(string.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == percent {
                guard i + 2 < bytes.count, isHexDigit(bytes[i + 1]), isHexDigit(bytes[i + 2]) else { return nil }
                out.append(hexValue(bytes[i + 1]) << 4 | hexValue(bytes[i + 2]))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8 {
        isDigit(byte) ? byte - 0x30 : (byte | 0x20) - 0x61 + 10
    }

    /// Removes the quotes and `\` escapes of a quoted-string; returns the input unchanged when it is
    /// not quoted.
    static func unquoted(_ value: String) -> String {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes.first == quote, bytes.last == quote else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 1
        while i < bytes.count - 1 {
            if bytes[i] == backslash && i + 1 < bytes.count - 1 {
                out.append(bytes[i + 1])
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Wraps `value` in quotes, escaping `"` and `\` (RFC 3261 §25.1 quoted-string).
    static func quoted(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(scalar)
        }
        out.append("\"")
        return out
    }
}

/// A contiguous run of bytes that slices to its own type: `ArraySlice<UInt8>` for strings given to
/// the public initialisers, `Slice<UnsafeBufferPointer<UInt8>>` inside the message parser (no
/// reference counting on the hot path).
protocol SIPByteSlice: RandomAccessCollection where Element == UInt8, Index == Int, SubSequence == Self {}

extension ArraySlice<UInt8>: SIPByteSlice {}
extension Slice<UnsafeBufferPointer<UInt8>>: SIPByteSlice {}
