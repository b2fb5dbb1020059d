import Foundation
public import SIPEvents
public import SIPSyntax

/// The endpoint's notion of time: the instant used by the event machines and how to wait.
///
/// `now` must be on a timeline that survives a restart (the default is seconds since 1970),
/// because subscription and publication expiry instants are saved and compared after a reboot.
/// Protocol logic never reads a clock itself; tests pass their own.
public struct SIPEndpointClock: Sendable {
    /// The current instant.
    public var now: @Sendable () -> SIPEventInstant
    /// Waits for a duration; throws when the waiting task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> SIPEventInstant, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// Wall-clock instants (seconds since 1970) and `Task.sleep`.
    public static let system = SIPEndpointClock(
        now: { .seconds(Date().timeIntervalSince1970) },
        sleep: { duration in try await Task.sleep(for: duration) }
    )
}

/// Settings of a ``SIPEndpoint``.
public struct SIPEndpointConfiguration: Sendable {
    /// The node's address of record `sip:USER@HOST:PORT`: its presentity, and From of the requests
    /// it sends.
    public var localURI: SIPURI
    /// Where peers reach us in dialogs (Contact); defaults to ``localURI``.
    public var contact: SIPURI
    /// Time source and sleeping.
    public var clock: SIPEndpointClock = .system
    /// Subscriber: wait before subscribing again after a failure without Retry-After (RFC 6665 §4.1.3).
    public var subscriberRetryDelay: Duration = .seconds(30)
    /// Subscriber: Timer N, how long to wait for the first NOTIFY (RFC 6665 §4.1.2.4: 64·T1).
    public var notifyWait: Duration = .seconds(32)
    /// Body types accepted in MESSAGE (RFC 3428 §7); others get 415.
    public var acceptedMessageTypes: [String] = ["text/plain", "application/json", "application/xml", "application/pidf+xml"]
    /// Largest MESSAGE body accepted over UDP (RFC 3428 §6); bigger ones get 413.
    public var maximumMessageBodySizeUDP: Int = 1300
    /// Largest MESSAGE body accepted over TCP.
    public var maximumMessageBodySizeTCP: Int = 65_536
    /// Runs for every MESSAGE that passed the type and size checks, before it is answered: the
    /// answer is 200 only when it returns ``SIPMessageDecision/accept`` (RFC 3428 §7), so an
    /// application can store the message first. `nil` accepts every valid MESSAGE.
    public var onMessage: (@Sendable (SIPReceivedMessage) async -> SIPMessageDecision)?

    public init(localURI: SIPURI, contact: SIPURI? = nil) {
        self.localURI = localURI
        self.contact = contact ?? localURI
    }
}

/// Why an endpoint operation failed.
public struct SIPEndpointError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case notRunning
        case storeFailed
        case noDestination
        case unknownPackage
        case alreadyStarted
    }

    private let code: Code
    /// What went wrong, naming the URI, package or store involved.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The endpoint was not started or has been shut down.
    public static let notRunning = SIPEndpointError(.notRunning, "the SIP endpoint is not running")
    /// ``SIPEndpoint/start()`` was called twice.
    public static let alreadyStarted = SIPEndpointError(.alreadyStarted, "the SIP endpoint is already running")

    /// The store could not write or read the endpoint's state; nothing was acknowledged.
    public static func storeFailed(_ underlying: any Error) -> SIPEndpointError {
        SIPEndpointError(.storeFailed, "the endpoint store failed: \(underlying)")
    }

    /// The URI names no host we can send to.
    public static func noDestination(_ uri: SIPURI) -> SIPEndpointError {
        SIPEndpointError(.noDestination, "cannot send to \(uri): it has no SIP host")
    }

    /// The package is not registered with this endpoint.
    public static func unknownPackage(_ name: String) -> SIPEndpointError {
        SIPEndpointError(.unknownPackage, "no event package named '\(name)' is registered")
    }

    public var description: String { detail }

    public static func == (lhs: SIPEndpointError, rhs: SIPEndpointError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
