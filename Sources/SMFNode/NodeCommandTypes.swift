/// The arguments and answers of the node's event commands on the control channel, shared by the node and the
/// `smf` CLI (docs/cli.md lists the commands).

/// `presence.publish` arguments: the node's own presence (RFC 3863 basic status, RFC 4480 activities,
/// RFC 4119 location).
public struct PresencePublishArguments: Codable, Sendable, Equatable {
    /// `open` or `closed`.
    public var status: String
    public var note: String?
    /// RPID activity tokens, e.g. `busy`, `away`, `on-the-phone`.
    public var activities: [String]
    public var latitude: Double?
    public var longitude: Double?

    public init(status: String, note: String? = nil, activities: [String] = [], latitude: Double? = nil, longitude: Double? = nil) {
        self.status = status
        self.note = note
        self.activities = activities
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// `presence.publish` answer.
public struct PresencePublishResult: Codable, Sendable, Equatable {
    /// The presentity (the node's address of record).
    public var entity: String
    /// Watchers notified (subscriptions of the `presence` package the node serves).
    public var watchers: Int
    /// The registrar the document is also PUBLISHed at, if any.
    public var registrar: String?

    public init(entity: String, watchers: Int, registrar: String?) {
        self.entity = entity
        self.watchers = watchers
        self.registrar = registrar
    }
}

/// `presence.watch` arguments: subscribe to `uri` for `package` (RFC 6665 §4.1).
public struct WatchArguments: Codable, Sendable, Equatable {
    public var uri: String
    public var package: String
    public var expires: Int

    public init(uri: String, package: String = "presence", expires: Int = 3600) {
        self.uri = uri
        self.package = package
        self.expires = expires
    }
}

/// One `presence.watch` event: a NOTIFY, or the end of the subscription.
public struct WatchEvent: Codable, Sendable, Equatable {
    /// `notify` or `terminated`.
    public var kind: String
    /// The Subscription-State value (`active;expires=3600`) or, for `terminated`, why.
    public var state: String
    public var contentType: String?
    /// The body as text (UTF-8).
    public var body: String?
    /// Read from a PIDF body.
    public var presence: PresenceSummary?

    public init(kind: String, state: String, contentType: String? = nil, body: String? = nil, presence: PresenceSummary? = nil) {
        self.kind = kind
        self.state = state
        self.contentType = contentType
        self.body = body
        self.presence = presence
    }
}

/// What `smf presence watch` shows of a PIDF document.
public struct PresenceSummary: Codable, Sendable, Equatable {
    public var entity: String
    /// `open`, `closed`, or nil when no tuple says.
    public var status: String?
    public var notes: [String]
    public var activities: [String]
    public var latitude: Double?
    public var longitude: Double?

    public init(entity: String, status: String?, notes: [String], activities: [String], latitude: Double?, longitude: Double?) {
        self.entity = entity
        self.status = status
        self.notes = notes
        self.activities = activities
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// `message.send` arguments (RFC 3428 §4).
public struct MessageSendArguments: Codable, Sendable, Equatable {
    public var uri: String
    public var text: String
    public var contentType: String

    public init(uri: String, text: String, contentType: String = "text/plain") {
        self.uri = uri
        self.text = text
        self.contentType = contentType
    }
}

/// `message.send` answer.
public struct MessageSendResult: Codable, Sendable, Equatable {
    /// `delivered`, `rejected` or `timeout`.
    public var outcome: String
    public var statusCode: Int?
    public var reason: String?

    public init(outcome: String, statusCode: Int?, reason: String?) {
        self.outcome = outcome
        self.statusCode = statusCode
        self.reason = reason
    }
}

/// `messages.list` / `messages.follow` arguments.
public struct MessagesArguments: Codable, Sendable, Equatable {
    /// Only messages with a larger id.
    public var afterID: Int64
    /// At most this many (the newest).
    public var limit: Int

    public init(afterID: Int64 = 0, limit: Int = 1000) {
        self.afterID = afterID
        self.limit = limit
    }
}

/// A received MESSAGE as `smf messages` shows it.
public struct ReceivedMessage: Codable, Sendable, Equatable {
    public var id: Int64
    /// Seconds since 1970.
    public var receivedAt: Double
    public var from: String
    public var to: String
    public var contentType: String
    /// The body as text (UTF-8, invalid sequences replaced).
    public var text: String

    public init(id: Int64, receivedAt: Double, from: String, to: String, contentType: String, text: String) {
        self.id = id
        self.receivedAt = receivedAt
        self.from = from
        self.to = to
        self.contentType = contentType
        self.text = text
    }
}

/// One row of `smf subscriptions`.
public struct SubscriptionRow: Codable, Sendable, Equatable {
    /// `notifier` (we send NOTIFYs) or `subscriber` (we receive them).
    public var role: String
    /// The Event value.
    public var package: String
    public var resource: String
    public var peer: String
    public var state: String
    public var expiresIn: Int
    public var lastCSeq: UInt32?

    public init(role: String, package: String, resource: String, peer: String, state: String, expiresIn: Int, lastCSeq: UInt32?) {
        self.role = role
        self.package = package
        self.resource = resource
        self.peer = peer
        self.state = state
        self.expiresIn = expiresIn
        self.lastCSeq = lastCSeq
    }
}

/// `state.set` arguments: the node's state in `package` (RFC 6665 §4.2.2); `text` nil clears it.
public struct StateSetArguments: Codable, Sendable, Equatable {
    public var package: String
    public var text: String?
    public var contentType: String

    public init(package: String, text: String?, contentType: String = "text/plain") {
        self.package = package
        self.text = text
        self.contentType = contentType
    }
}

/// `state.set` answer.
public struct StateSetResult: Codable, Sendable, Equatable {
    public var package: String
    public var resource: String
    /// Subscriptions of that package the node notifies.
    public var watchers: Int

    public init(package: String, resource: String, watchers: Int) {
        self.package = package
        self.resource = resource
        self.watchers = watchers
    }
}
