/// Why the transport could not deliver a request or obtain a final response.
public struct SIPTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case timeout
        case transportFailure
        case notRunning
        case noListener
        case unresolvable
        case connectFailed
        case invalidRequest
        case cancelled
        case refused
    }

    let code: Code
    /// What went wrong, naming the destination or header involved.
    public let detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// No final response arrived before Timer F / Timer B fired (RFC 3261 §17.1.2.2); the TU sees 408 (§8.1.3.1).
    public static let timeout = SIPTransportError(.timeout, "no final response before the transaction timed out")
    /// The transport reported a send failure (RFC 3261 §17.1.4); the TU sees 503 (§8.1.3.1).
    public static let transportFailure = SIPTransportError(.transportFailure, "the transport failed to send the request")
    /// The transport has not been started or has been shut down.
    public static let notRunning = SIPTransportError(.notRunning, "the SIP transport is not running")
    /// The task waiting for the response was cancelled; the transaction itself runs to its end.
    public static let cancelled = SIPTransportError(.cancelled, "the request was abandoned before a final response arrived")

    /// The outbound request hook refused to let the request leave (``SIPTransportConfiguration/outboundRequestHook``).
    public static let refused = SIPTransportError(.refused, "the request was refused by the outbound request hook")

    public var isTimeout: Bool { code == .timeout }
    public var isTransportFailure: Bool { code == .transportFailure || code == .connectFailed || code == .unresolvable || code == .noListener }

    /// The status code a transaction user treats this error as (RFC 3261 §8.1.3.1): 408 for a timeout, 503 otherwise.
    public var equivalentStatusCode: Int { code == .timeout ? 408 : 503 }

    public var description: String { detail }

    public static func == (lhs: SIPTransportError, rhs: SIPTransportError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    static func noListener(_ transport: SIPTransportProtocol, family: String) -> SIPTransportError {
        SIPTransportError(.noListener, "no \(transport) socket for \(family) destinations is open")
    }
    static func unresolvable(_ destination: SIPDestination, _ underlying: any Error) -> SIPTransportError {
        SIPTransportError(.unresolvable, "cannot resolve \(destination): \(underlying)")
    }
    static func connectFailed(_ destination: SIPDestination, _ underlying: any Error) -> SIPTransportError {
        SIPTransportError(.connectFailed, "cannot connect to \(destination): \(underlying)")
    }
    static func invalidRequest(_ problem: String) -> SIPTransportError {
        SIPTransportError(.invalidRequest, "cannot send request: \(problem)")
    }
    static func sendFailed(_ destination: String, _ underlying: any Error) -> SIPTransportError {
        SIPTransportError(.transportFailure, "sending to \(destination) failed: \(underlying)")
    }
}
