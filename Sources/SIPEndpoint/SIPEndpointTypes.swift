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
