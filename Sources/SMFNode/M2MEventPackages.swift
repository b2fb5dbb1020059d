import SIPEvents

/// The machine-to-machine event packages every node serves besides `presence` (RFC 6665 §7.2 asks each
/// package to say what its bodies and first NOTIFY are; these are the node's own, not registered with IANA).
///
/// Kept here until the service runtime declares packages from composition files.
public enum M2MEventPackages {
    /// `m2m-alarm`: an alarm's current state, as text or JSON (`smf state set --package m2m-alarm TEXT`), and the
    /// building-surveillance alarms (docs/surveillance.md).
    ///
    /// - Bodies: `text/plain`, `application/json`, an alarm (`application/smf-alarm+json`: a notifier's NOTIFY to a
    ///   supporter's node, or the body of its SUBSCRIBE in variant 2) or an answer (`application/smf-alarm-answer+json`:
    ///   a supporter's NOTIFY in that subscription).
    /// - Resources: the To URI's scheme, user and host, and its `supporter` parameter, so each supporter has its own
    ///   alarm resource at a notifier (`sip:app.notifier@host;supporter=bob%40north.example`).
    /// - First NOTIFY (RFC 6665 §4.2.1.2): the resource's current state, or no body when none was set yet.
    /// - No rate limit: an alarm is sent as soon as it changes (RFC 6665 §5.4.7 leaves the interval to the package).
    public static let alarm = SIPBasicEventPackage(
        name: "m2m-alarm",
        acceptedContentTypes: ["text/plain", "application/json", "application/smf-alarm+json", "application/smf-alarm-answer+json"],
        expiresPolicy: SIPExpiresPolicy(),
        minimumNotifyInterval: .zero,
        resourceParameters: ["supporter"]
    )

    /// Every M2M package, for registration with the endpoint.
    public static var all: [any SIPEventPackage] { [alarm] }
}
