public import SIPEvents
public import SIPSyntax

/// The `presence` event package (RFC 3856) for ``SIPNotifier`` and ``SIPEventStateCompositor``.
///
/// - Name `presence`; bodies `application/pidf+xml` (RFC 3856 §6.2, §6.7).
/// - The first NOTIFY carries the presentity's current document: the notifier's resource state,
///   which the node keeps up to date from its ``PresentityStore``. When nothing is known about the
///   presentity yet, it carries an "offline" document (one closed tuple, ``offlineDocument(for:)``),
///   as RFC 3856 §6.6 lets a presence agent do, rather than no body.
/// - Several publications of one presentity are composed by ``PresenceDocument/composed(_:)``
///   (RFC 3903 §4).
public struct PresenceEventPackage: SIPEventPackage {
    /// `presence`.
    public let name = "presence"
    /// `application/pidf+xml`.
    public let acceptedContentTypes = [PresenceDocument.contentType]
    /// Expiry bounds for subscriptions and publications (RFC 3856 §6.4 suggests 3600 s by default).
    public var expiresPolicy: SIPExpiresPolicy
    /// The least time between two NOTIFYs of one subscription (RFC 3856 §6.9 asks for a rate limit,
    /// suggesting one notification in 5 s).
    public var minimumNotifyInterval: Duration
    /// Decides new subscriptions (RFC 3856 §6.5, e.g. by community membership); accepts all by default.
    public var authorization: @Sendable (SIPRequest) -> SIPSubscriptionAuthorization

    /// Creates the package.
    public init(
        expiresPolicy: SIPExpiresPolicy = SIPExpiresPolicy(defaultSeconds: 3600),
        minimumNotifyInterval: Duration = .seconds(5),
        authorization: @escaping @Sendable (SIPRequest) -> SIPSubscriptionAuthorization = { _ in .accept }
    ) {
        self.expiresPolicy = expiresPolicy
        self.minimumNotifyInterval = minimumNotifyInterval
        self.authorization = authorization
    }

    public func authorize(_ subscribe: SIPRequest) -> SIPSubscriptionAuthorization { authorization(subscribe) }

    /// The offline document of the watched presentity (used only when no state is known).
    public func initialState(for subscription: SIPNotifierSubscription) -> SIPEventBody? {
        try? Self.offlineDocument(for: subscription.resource).eventBody()
    }

    /// Composes the PIDF publications (oldest first) with ``PresenceDocument/composed(_:)``.
    ///
    /// Bodies that are not readable PIDF take no part; when none is readable, or the composition
    /// cannot be written back as valid PIDF (e.g. ids a tolerant read accepted), the latest body wins.
    public func compose(_ publications: [SIPEventBody]) -> SIPEventBody? {
        let documents = publications.compactMap { try? PresenceDocument(eventBody: $0) }
        guard publications.count > 1, let composed = PresenceDocument.composed(documents),
            let body = try? composed.eventBody()
        else { return publications.last }
        return body
    }

    /// A document saying that nothing can reach `resource` now: one tuple `offline`, basic `closed`.
    public static func offlineDocument(for resource: String) -> PresenceDocument {
        PresenceDocument(entity: resource, tuples: [PresenceTuple(id: "offline", status: PresenceStatus(basic: .closed))])
    }
}
