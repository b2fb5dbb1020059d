public import SIPSyntax

/// What a package decides about a new subscription (RFC 6665 §4.2.1.3, §5.4.6), e.g. from
/// community membership.
public enum SIPSubscriptionAuthorization: Hashable, Sendable {
    /// Accept at once: 200 and an `active` NOTIFY.
    case accept
    /// Decide later: 202 and a `pending` NOTIFY; call ``SIPNotifier/authorize(_:decision:now:)``.
    case pending
    /// Refuse with this final status (e.g. 403) and create nothing.
    case reject(statusCode: Int)
}

/// The expiry bounds of a package, in seconds (RFC 6665 §4.2.1.1, §5.4.4; RFC 3903 §4.1).
public struct SIPExpiresPolicy: Hashable, Sendable, Codable {
    /// Used when the request carries no Expires.
    public var defaultSeconds: Int
    /// Shorter non-zero requests get `423 Interval Too Brief` with this as `Min-Expires`.
    public var minimumSeconds: Int
    /// Longer requests are shortened to this.
    public var maximumSeconds: Int

    public init(defaultSeconds: Int = 3600, minimumSeconds: Int = 60, maximumSeconds: Int = 86_400) {
        self.defaultSeconds = defaultSeconds
        self.minimumSeconds = minimumSeconds
        self.maximumSeconds = max(maximumSeconds, minimumSeconds)
    }

    /// The outcome of applying the policy to a requested `Expires`.
    public enum Decision: Hashable, Sendable {
        /// Grant this many seconds (0 means fetch/unsubscribe/remove).
        case grant(Int)
        /// Too brief: answer 423 with `Min-Expires`.
        case tooBrief(minimum: Int)
    }

    /// Applies default, minimum and maximum to `requested` (RFC 6665 §4.2.1.1: 0 is always
    /// allowed; the notifier may shorten but never lengthen).
    public func decide(requested: Int?) -> Decision {
        guard let requested else { return .grant(min(defaultSeconds, maximumSeconds)) }
        if requested == 0 { return .grant(0) }
        if requested < minimumSeconds { return .tooBrief(minimum: minimumSeconds) }
        return .grant(min(requested, maximumSeconds))
    }
}

/// One event package (RFC 6665 §5.4): its name, body types, expiry bounds, authorization,
/// initial state, notification rate limit, and how published state composes (RFC 3903 §4).
///
/// Every requirement but ``name`` has a default.
public protocol SIPEventPackage: Sendable {
    /// The package token used in `Event` and `Allow-Events`, e.g. `presence`, `m2m-alarm`.
    var name: String { get }
    /// Media types the package's bodies may have (put into `Accept`; RFC 6665 §4.1.2.1).
    var acceptedContentTypes: [String] { get }
    /// Expiry bounds for subscriptions and publications.
    var expiresPolicy: SIPExpiresPolicy { get }
    /// State changes closer together than this are coalesced into one NOTIFY carrying the
    /// latest state (RFC 6665 §5.4.7 rate limiting).
    var minimumNotifyInterval: Duration { get }
    /// Decides whether a new SUBSCRIBE may proceed (RFC 6665 §5.4.6).
    func authorize(_ subscribe: SIPRequest) -> SIPSubscriptionAuthorization
    /// The body of the first NOTIFY of `subscription` when no state was reported for its
    /// resource yet (RFC 6665 §4.2.1.2); `nil` sends a NOTIFY without body.
    func initialState(for subscription: SIPNotifierSubscription) -> SIPEventBody?
    /// Composes the live publications of one resource, oldest first, into its state
    /// (RFC 3903 §4.1); `nil` when there is no state.
    func compose(_ publications: [SIPEventBody]) -> SIPEventBody?
    /// The key of the resource `uri` names: a SUBSCRIBE's To URI and the URI a state is set for map to the same
    /// key when they name the same resource (default ``SIPEventResource/key(for:)``: scheme, user and host).
    func resourceKey(for uri: SIPURI) -> String
}

extension SIPEventPackage {
    public var acceptedContentTypes: [String] { ["*/*"] }
    public var expiresPolicy: SIPExpiresPolicy { SIPExpiresPolicy() }
    public var minimumNotifyInterval: Duration { .zero }
    public func authorize(_ subscribe: SIPRequest) -> SIPSubscriptionAuthorization { .accept }
    public func initialState(for subscription: SIPNotifierSubscription) -> SIPEventBody? { nil }
    /// The latest publication wins.
    public func compose(_ publications: [SIPEventBody]) -> SIPEventBody? { publications.last }
    public func resourceKey(for uri: SIPURI) -> String { SIPEventResource.key(for: uri) }
}

/// A package defined by values, for packages that need no code (and for tests).
public struct SIPBasicEventPackage: SIPEventPackage {
    public var name: String
    public var acceptedContentTypes: [String]
    public var expiresPolicy: SIPExpiresPolicy
    public var minimumNotifyInterval: Duration
    /// Decides new subscriptions; accepts all by default.
    public var authorization: @Sendable (SIPRequest) -> SIPSubscriptionAuthorization
    /// URI parameters that tell this package's resources apart (``SIPEventResource/key(for:keeping:)``); none by default.
    public var resourceParameters: [String]

    public init(
        name: String, acceptedContentTypes: [String] = ["*/*"], expiresPolicy: SIPExpiresPolicy = SIPExpiresPolicy(),
        minimumNotifyInterval: Duration = .zero, resourceParameters: [String] = [],
        authorization: @escaping @Sendable (SIPRequest) -> SIPSubscriptionAuthorization = { _ in .accept }
    ) {
        self.resourceParameters = resourceParameters
        self.name = name
        self.acceptedContentTypes = acceptedContentTypes
        self.expiresPolicy = expiresPolicy
        self.minimumNotifyInterval = minimumNotifyInterval
        self.authorization = authorization
    }

    public func authorize(_ subscribe: SIPRequest) -> SIPSubscriptionAuthorization { authorization(subscribe) }

    public func resourceKey(for uri: SIPURI) -> String {
        resourceParameters.isEmpty ? SIPEventResource.key(for: uri) : SIPEventResource.key(for: uri, keeping: resourceParameters)
    }
}
