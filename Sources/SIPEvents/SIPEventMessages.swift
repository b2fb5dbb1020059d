public import SIPSyntax

/// Message helpers shared by the event machines.
public enum SIPEventMessages {
    /// A response to `request` as a UAS builds it (RFC 3261 §8.2.6.2): Via, From, Call-ID and
    /// CSeq copied; To copied, with `toTag` added when it has none (never for 100).
    public static func response(_ statusCode: Int, to request: SIPRequest, toTag: String? = nil) -> SIPResponse {
        var headers = SIPHeaders()
        for via in request.headers.values("Via") { headers.add(name: "Via", value: via) }
        for name in ["From", "Call-ID", "CSeq"] {
            for value in request.headers.values(name) { headers.add(name: name, value: value) }
        }
        if var to = request.headers.to {
            if to.tag == nil, statusCode > 100, let toTag { to.tag = toTag }
            headers.add(name: "To", value: to.description)
        } else if let raw = request.headers["To"] {
            headers.add(name: "To", value: raw)
        }
        headers.contentLength = 0
        return SIPResponse(statusCode: statusCode, headers: headers)
    }

    /// A random token of `length` characters from `[0-9a-z]`, for tags, Call-IDs and entity tags
    /// (RFC 3261 §19.3 asks for at least 32 bits of randomness; 12 characters give ~62).
    public static func token(length: Int = 12, using generator: inout some RandomNumberGenerator) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            bytes.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// When to refresh something that expires `after` from now: a random point between
    /// `window.lowerBound` and `window.upperBound` of the interval, but never later than `margin`
    /// before expiry (and for intervals shorter than twice the margin, at half the interval).
    /// Spreading refreshes avoids synchronised bursts (RFC 6665 §4.1.2.2, RFC 3903 §4.1).
    public static func refreshDelay(
        expiringAfter interval: Duration, window: ClosedRange<Double> = 0.8...0.9, margin: Duration = .seconds(5),
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        guard interval > .zero else { return .zero }
        if interval < margin * 2 { return interval / 2 }
        let fraction = window.lowerBound < window.upperBound ? Double.random(in: window, using: &generator) : window.lowerBound
        let jittered = interval * fraction
        return min(jittered, interval - margin)
    }
}

/// Instants on the caller's timeline (e.g. seconds since 1970 when state is persisted, or
/// virtual time in tests). The event machines never read a clock: every event carries `now`.
public typealias SIPEventInstant = Duration

extension Duration {
    /// Whole seconds, rounded up, never negative (for `expires=` parameters).
    var wholeSecondsRoundedUp: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}
