public import SIPCore
public import SIPEvents
public import SIPSyntax
public import SIPTransport

/// What a subscription made with ``SIPEndpoint/subscribe(to:package:expires:accept:)`` reports.
public enum SIPSubscriptionUpdate: Hashable, Sendable {
    /// A NOTIFY arrived (RFC 6665 §4.1.3).
    case notification(SIPSubscriberNotification)
    /// The subscription ended for good; the stream finishes after this.
    case terminated(SIPSubscriberTermination)
}

/// A subscription we hold at a notifier: its identity and the stream of what it receives.
///
/// Re-subscribing after expiry, 481, 423 or a retryable `terminated` happens inside the endpoint
/// (RFC 6665 §4.1.2.2, §4.1.3); the stream carries on across it.
public struct SIPSubscriptionHandle: Sendable {
    /// Identifies the subscription within its endpoint.
    public let id: Int
    /// Notifications, then one ``SIPSubscriptionUpdate/terminated(_:)``.
    public let updates: AsyncStream<SIPSubscriptionUpdate>
}

/// What a publication made with ``SIPEndpoint/publish(to:package:body:expires:)`` reports.
public enum SIPPublicationUpdate: Hashable, Sendable {
    /// The ESC holds our state under this entity tag for `expires` seconds (RFC 3903 §4.1).
    case published(entityTag: String, expires: Int)
    /// Our publication was removed; the stream finishes after this.
    case removed
    /// A PUBLISH failed with this status (`nil`: timeout or transport error).
    case failed(statusCode: Int?)
}

/// A publication we keep at an ESC: refresh, modify or remove it through the endpoint.
public struct SIPPublicationHandle: Sendable {
    /// Identifies the publication within its endpoint.
    public let id: Int
    public let updates: AsyncStream<SIPPublicationUpdate>
    let endpoint: SIPEndpoint

    /// Publishes a new state (a modification with SIP-If-Match, RFC 3903 §4.4).
    public func modify(_ body: SIPEventBody) async { await endpoint.modifyPublication(id, body: body) }
    /// Refreshes now instead of waiting for the refresh timer (RFC 3903 §4.3).
    public func refresh() async { await endpoint.refreshPublication(id) }
    /// Removes the publication (`Expires: 0`, RFC 3903 §4.5).
    public func remove() async { await endpoint.removePublication(id) }
}

/// What a ``SIPEndpointConfiguration/onMessage`` hook decides about a received MESSAGE, before it
/// is answered (RFC 3428 §7: a 2xx says the message was accepted).
public enum SIPMessageDecision: Hashable, Sendable {
    /// Answer 200 and pass the message on to ``SIPEndpoint/messages``.
    case accept
    /// Answer with this final status (e.g. 500 when it could not be stored, 486 when busy) and
    /// drop the message.
    case refuse(statusCode: Int)
}

/// A pager-mode MESSAGE we accepted (RFC 3428 §7).
public struct SIPReceivedMessage: Hashable, Sendable {
    /// The sender's From URI.
    public var from: SIPURI?
    /// The To URI.
    public var to: SIPURI?
    public var body: SIPEventBody
    /// Transport and address it came from.
    public var source: SIPDestination

    public init(from: SIPURI?, to: SIPURI?, body: SIPEventBody, source: SIPDestination) {
        self.from = from
        self.to = to
        self.body = body
        self.source = source
    }
}

/// One live subscription, either direction, as `smf subscriptions` lists it.
public struct SIPSubscriptionInfo: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable {
        /// We send NOTIFYs for it.
        case notifier
        /// We receive NOTIFYs for it.
        case subscriber
    }

    public var role: Role
    /// The `Event` value (package and id).
    public var event: String
    /// The watched resource.
    public var resource: String
    /// The other party: the subscriber (notifier role) or the notifier's target (subscriber role).
    public var peer: String
    /// The dialog, `nil` while a subscriber waits for its first answer.
    public var dialog: SIPDialogID?
    /// `pending`, `active`, `terminated`, or `subscribing` before the first answer.
    public var state: String
    /// Whole seconds until it expires unless refreshed.
    public var expiresIn: Int
    /// The CSeq of the last NOTIFY sent (notifier) or received (subscriber).
    public var lastNotifyCSeq: UInt32?
}

// MARK: - Streaming on one subscription, package owners, answering NOTIFYs

/// How a NOTIFY sent with ``SIPEndpoint/notify(_:body:)`` ended (RFC 6665 §4.2.2).
public enum SIPNotifyOutcome: Hashable, Sendable {
    /// The subscriber answered 2xx: it has the body.
    case delivered(statusCode: Int)
    /// The subscriber answered with a failure. With `retryAfter` (RFC 3261 §20.33) the subscription stays and
    /// the body may be sent again after that many seconds; without it (or for 481) the subscription is removed.
    case refused(statusCode: Int, retryAfter: Int?)
    /// No final response came (timeout) or the transport could not send it; the subscription is removed.
    case failed(reason: String)
    /// The subscription does not exist (any more) or is not active: nothing was sent.
    case gone
}

/// Something happened to a subscription we notify, told to the owner of its package (see
/// ``SIPEndpoint/observeSubscriptions(of:)``).
public struct SIPNotifierSubscriptionChange: Hashable, Sendable {
    /// What happened.
    public enum Kind: Hashable, Sendable {
        /// It was accepted (or restored after a restart) with this status.
        case created(SIPNotifierSubscription.Status)
        /// The subscriber refreshed it (RFC 6665 §4.1.2.2).
        case refreshed
        /// A pending subscription was authorized (RFC 6665 §4.2.1.3).
        case activated
        /// It is gone.
        case removed(SIPNotifierRemoval)
    }

    /// What happened.
    public var kind: Kind
    /// The subscription (dialog and `Event` with its `id`).
    public var key: SIPSubscriptionKey
    /// The watched resource (``SIPEvents/SIPEventResource/key(for:)`` of the SUBSCRIBE's To URI); empty for
    /// ``Kind/removed(_:)``.
    public var resource: String
    /// The subscriber's From URI; empty for ``Kind/removed(_:)``.
    public var subscriber: String

    public init(kind: Kind, key: SIPSubscriptionKey, resource: String, subscriber: String) {
        self.kind = kind
        self.key = key
        self.resource = resource
        self.subscriber = subscriber
    }
}

/// A refusal of a SUBSCRIBE (or NOTIFY) with its status, reason and an optional `Retry-After`.
public struct SIPRequestRefusal: Hashable, Sendable {
    /// A final failure status, e.g. 403 or 480.
    public var statusCode: Int
    /// The reason phrase, saying what is wrong.
    public var reason: String?
    /// Seconds after which the request may be tried again (RFC 3261 §20.33).
    public var retryAfter: Int?

    public init(statusCode: Int, reason: String? = nil, retryAfter: Int? = nil) {
        self.statusCode = statusCode
        self.reason = reason
        self.retryAfter = retryAfter
    }

    /// The failure response to `request`, with the reason and `Retry-After`.
    public func response(to request: SIPRequest, toTag: String? = nil) -> SIPResponse {
        var response = SIPEventMessages.response((300...699).contains(statusCode) ? statusCode : 500, to: request, toTag: toTag)
        if let reason { response.reasonPhrase = reason }
        if let retryAfter { response.headers.add(name: "Retry-After", value: String(max(0, retryAfter))) }
        return response
    }
}

/// Decides a new SUBSCRIBE of a package before the notifier sees it: `nil` lets it through (the package's own
/// authorization still applies), a refusal answers it and creates nothing. May suspend (a database read, a
/// membership check).
public typealias SIPSubscribeAdmission = @Sendable (SIPRequest) async -> SIPRequestRefusal?

/// How a subscriber answers a NOTIFY (RFC 6665 §4.1.3): `nil` is 200; a refusal with `Retry-After` keeps the
/// subscription at the notifier (RFC 6665 §4.2.2) so it sends the content again.
public typealias SIPNotificationHandler = @Sendable (SIPSubscriberNotification, SIPRequest) async -> SIPRequestRefusal?
