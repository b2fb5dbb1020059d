public import SIPEvents
public import SIPSyntax

/// The presentities this node is the presence agent for (edge presence, RFC 3856 §3): the current
/// document of each address of record, from the node's own publications and from PUBLISH requests
/// composed by the ``SIPEventStateCompositor``.
///
/// A pure value: it does no I/O and reads no clock. Each update returns the ``Change`` to hand to
/// ``SIPNotifier/resourceStateChanged(event:resource:state:now:)`` so watchers get a NOTIFY.
/// Resources are named as ``SIPEventResource/key(for:)`` names them (`sip:alice@example.com`).
public struct PresentityStore: Sendable, Hashable {
    /// A presentity's current document changed.
    public struct Change: Sendable, Hashable {
        /// The resource (``SIPEventResource/key(for:)``).
        public var resource: String
        /// The new document; nil when nothing is known any more.
        public var document: PresenceDocument?
        /// The new state as a PIDF body for the notifier; nil when nothing is known any more.
        public var body: SIPEventBody?
        /// The event package, `presence`.
        public var event: String { "presence" }
    }

    /// What the node itself published, by resource.
    public private(set) var localDocuments: [String: PresenceDocument] = [:]
    /// What others published (composed by the ESC), by resource.
    public private(set) var publishedDocuments: [String: PresenceDocument] = [:]

    /// Creates an empty store.
    public init() {}

    /// Every resource with a document.
    public var resources: [String] {
        Set(localDocuments.keys).union(publishedDocuments.keys).sorted()
    }

    /// The current document of `resource`: the published and the local document composed, local
    /// tuples and persons winning over published ones with the same id.
    public func document(for resource: String) -> PresenceDocument? {
        PresenceDocument.composed([publishedDocuments[resource], localDocuments[resource]].compactMap { $0 })
    }

    /// The current document of the address of record `aor`.
    public func document(for aor: SIPURI) -> PresenceDocument? {
        document(for: SIPEventResource.key(for: aor))
    }

    /// The node publishes `document` for `aor` itself (e.g. a sensor's or supporter's state set on the
    /// command line); it replaces the node's previous local document for that resource.
    ///
    /// - Throws: ``PresenceError`` when the current document cannot be written as valid PIDF (the
    ///   store is left unchanged).
    public mutating func publishLocally(_ document: PresenceDocument, for aor: SIPURI) throws(PresenceError) -> Change {
        let resource = SIPEventResource.key(for: aor)
        var updated = self
        updated.localDocuments[resource] = document
        let change = try updated.change(for: resource)
        self = updated
        return change
    }

    /// The node withdraws its own document for `aor`.
    public mutating func removeLocal(for aor: SIPURI) -> Change {
        let resource = SIPEventResource.key(for: aor)
        localDocuments[resource] = nil
        return (try? change(for: resource)) ?? Change(resource: resource, document: nil, body: nil)
    }

    /// Takes the compositor's `presence` state changes from `actions` (PUBLISH received, expired,
    /// removed; RFC 3903 §6) and returns the resulting changes. Other actions and packages are
    /// ignored; a body that is not readable PIDF leaves the resource without published document.
    public mutating func apply(_ actions: [SIPCompositorAction]) -> [Change] {
        var changes: [Change] = []
        for action in actions {
            guard case .resourceStateChanged(let event, let resource, let state) = action, event == "presence" else {
                continue
            }
            publishedDocuments[resource] = state.flatMap { try? PresenceDocument(eventBody: $0) }
            if let change = try? change(for: resource) {
                changes.append(change)
            } else {
                // The composition is not writable as valid PIDF: pass the published body on as it came.
                changes.append(Change(resource: resource, document: document(for: resource), body: state))
            }
        }
        return changes
    }

    private func change(for resource: String) throws(PresenceError) -> Change {
        let current = document(for: resource)
        return Change(resource: resource, document: current, body: try current?.eventBody())
    }
}
