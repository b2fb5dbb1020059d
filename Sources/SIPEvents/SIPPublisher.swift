public import SIPSyntax

/// What a publisher (PUA) publishes where (RFC 3903 §4).
public struct SIPPublisherConfiguration: Hashable, Sendable {
    /// The resource whose state is published (Request-URI and To).
    public var resource: SIPURI
    /// Our address of record (From).
    public var publisher: SIPURI
    /// The event package.
    public var event: String
    /// Requested duration in seconds.
    public var expires: Int
    public var refreshWindow: ClosedRange<Double>
    public var refreshMargin: Duration

    public init(
        resource: SIPURI, publisher: SIPURI? = nil, event: String, expires: Int = 3600,
        refreshWindow: ClosedRange<Double> = 0.8...0.9, refreshMargin: Duration = .seconds(5)
    ) {
        self.resource = resource
        self.publisher = publisher ?? resource
        self.event = event
        self.expires = expires
        self.refreshWindow = refreshWindow
        self.refreshMargin = refreshMargin
    }
}

/// Timers a publisher asks its owner to run.
public enum SIPPublisherTimer: Hashable, Sendable {
    /// Time to refresh the publication (RFC 3903 §4.1).
    case refresh
}

/// What a publisher asks its owner to do.
public enum SIPPublisherAction: Hashable, Sendable {
    /// Send this PUBLISH (add a top Via with a fresh branch); report its response or failure.
    case sendRequest(SIPRequest)
    case scheduleTimer(SIPPublisherTimer, after: Duration)
    case cancelTimer(SIPPublisherTimer)
    /// The ESC holds our state under this entity tag for `expires` seconds.
    case reportPublished(entityTag: String, expires: Int)
    /// Our publication is gone (removed by us).
    case reportRemoved
    /// A PUBLISH failed with this status (`nil`: timeout or transport error).
    case reportFailure(statusCode: Int?)
}

/// The client side of RFC 3903: initial PUBLISH, refresh before expiry with SIP-If-Match,
/// modification, removal; a 412 re-publishes the full state without SIP-If-Match, a 423 retries
/// with Min-Expires. One PUBLISH is outstanding at a time (RFC 3903 §4); later requests wait, and
/// only the newest waiting state is sent.
public struct SIPPublisher: Hashable, Sendable {
    private enum Operation: Hashable, Sendable {
        case publish(SIPEventBody)
        case refresh
        case remove
    }

    public let configuration: SIPPublisherConfiguration
    /// The entity tag of our publication at the ESC (persist it to refresh after a restart).
    public private(set) var entityTag: String?
    /// The full state we publish.
    public private(set) var state: SIPEventBody?
    private let callID: String
    private let localTag: String
    private var sequence: UInt32 = 0
    private var requestedExpires: Int
    private var outstanding: (operation: Operation, sequence: UInt32)?
    private var queued: Operation?

    public init(configuration: SIPPublisherConfiguration, using generator: inout some RandomNumberGenerator) {
        self.configuration = configuration
        self.requestedExpires = configuration.expires
        self.callID = SIPEventMessages.token(length: 20, using: &generator)
        self.localTag = SIPEventMessages.token(using: &generator)
    }

    public static func == (lhs: SIPPublisher, rhs: SIPPublisher) -> Bool {
        lhs.configuration == rhs.configuration && lhs.entityTag == rhs.entityTag && lhs.state == rhs.state && lhs.callID == rhs.callID
            && lhs.sequence == rhs.sequence
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(callID)
        hasher.combine(sequence)
    }

    /// Publishes `state`: initially without SIP-If-Match, afterwards as a modification
    /// (RFC 3903 §4.1, §4.4).
    public mutating func publish(_ state: SIPEventBody, now: SIPEventInstant) -> [SIPPublisherAction] {
        self.state = state
        return submit(.publish(state))
    }

    /// Removes the publication: SIP-If-Match with `Expires: 0` (RFC 3903 §4.5).
    public mutating func remove(now: SIPEventInstant) -> [SIPPublisherAction] {
        state = nil
        guard entityTag != nil || outstanding != nil else { return [.cancelTimer(.refresh), .reportRemoved] }
        return [.cancelTimer(.refresh)] + submit(.remove)
    }

    /// A timer fired.
    public mutating func timerFired(_ timer: SIPPublisherTimer, now: SIPEventInstant) -> [SIPPublisherAction] {
        guard entityTag != nil else { return [] }
        return submit(.refresh)
    }

    /// The final response to our PUBLISH.
    public mutating func responseReceived(
        _ response: SIPResponse, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPPublisherAction] {
        guard response.isFinal, let cseq = response.headers.cseq, let current = outstanding, cseq.sequence == current.sequence,
            response.headers.callID == callID
        else { return [] }
        outstanding = nil
        var actions: [SIPPublisherAction] = []
        switch response.statusCode {
        case 200..<300:
            if current.operation == .remove {
                entityTag = nil
                actions.append(.reportRemoved)
            } else if let tag = response.headers.sipETag {
                entityTag = tag
                let expires = response.headers.expires ?? requestedExpires
                let delay = SIPEventMessages.refreshDelay(
                    expiringAfter: .seconds(expires), window: configuration.refreshWindow, margin: configuration.refreshMargin,
                    using: &generator
                )
                actions += [.scheduleTimer(.refresh, after: delay), .reportPublished(entityTag: tag, expires: expires)]
            } else {
                actions.append(.reportFailure(statusCode: response.statusCode))
            }
        case 412:
            // The ESC lost our publication (RFC 3903 §4.3): publish the full state afresh.
            entityTag = nil
            if current.operation == .remove {
                actions.append(.reportRemoved)
            } else if let state, queued == nil {
                queued = .publish(state)
            }
        case 423:
            if let minimum = response.headers.minExpires, minimum > requestedExpires {
                requestedExpires = minimum
                if queued == nil { queued = current.operation }
            } else {
                actions.append(.reportFailure(statusCode: 423))
            }
        default:
            actions.append(.reportFailure(statusCode: response.statusCode))
        }
        return actions + sendQueued()
    }

    /// Our PUBLISH timed out or could not be sent.
    public mutating func requestFailed(_ request: SIPRequest, now: SIPEventInstant) -> [SIPPublisherAction] {
        guard let current = outstanding, request.headers.cseq?.sequence == current.sequence else { return [] }
        outstanding = nil
        return [.reportFailure(statusCode: nil)] + sendQueued()
    }

    // MARK: - Internals

    private mutating func submit(_ operation: Operation) -> [SIPPublisherAction] {
        if outstanding != nil {
            // Wait for the outstanding PUBLISH; a newer state supersedes an older waiting one.
            if case .refresh = operation, queued != nil { return [] }
            queued = operation
            return []
        }
        return send(operation)
    }

    private mutating func sendQueued() -> [SIPPublisherAction] {
        guard outstanding == nil, let next = queued else { return [] }
        queued = nil
        return send(next)
    }

    private mutating func send(_ operation: Operation) -> [SIPPublisherAction] {
        var headers = SIPHeaders()
        sequence &+= 1
        headers.add(name: "Max-Forwards", value: "70")
        headers.to = SIPNameAddress(uri: configuration.resource)
        headers.from = SIPNameAddress(uri: configuration.publisher, parameters: [("tag", localTag)])
        headers.callID = callID
        headers.cseq = SIPCSeq(sequence: sequence, method: .publish)
        headers.event = SIPEventHeader(package: configuration.event)
        var request = SIPRequest(method: .publish, uri: configuration.resource, headers: headers)
        switch operation {
        case .publish(let body):
            if let entityTag { request.headers.sipIfMatch = entityTag }
            request.headers.expires = requestedExpires
            request.eventBody = body
        case .refresh:
            guard let entityTag else { return [] }
            request.headers.sipIfMatch = entityTag
            request.headers.expires = requestedExpires
            request.eventBody = nil
        case .remove:
            guard let entityTag else { return [.reportRemoved] }
            request.headers.sipIfMatch = entityTag
            request.headers.expires = 0
            request.eventBody = nil
        }
        outstanding = (operation, sequence)
        return [.sendRequest(request)]
    }
}
