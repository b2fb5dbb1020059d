public import SIPSyntax

/// One publication an ESC holds (RFC 3903 §6).
public struct SIPPublication: Hashable, Sendable, Codable {
    /// The current entity tag (a new one after every successful PUBLISH, §6 step 7).
    public var entityTag: String
    public var event: String
    /// ``SIPEventResource/key(for:)`` of the Request-URI.
    public var resource: String
    public var state: SIPEventBody
    public var expiresAt: SIPEventInstant
    /// Order of last modification, for "latest wins" composition.
    public var sequence: UInt64
}

/// Timers the ESC asks its owner to run.
public enum SIPPublicationTimer: Hashable, Sendable {
    /// The publication with this entity tag expires (RFC 3903 §6 step 8).
    case expiry(entityTag: String)
}

/// What the ESC asks its owner to do.
public enum SIPCompositorAction: Hashable, Sendable {
    /// Answer the PUBLISH.
    case sendResponse(SIPResponse)
    case scheduleTimer(SIPPublicationTimer, after: Duration)
    case cancelTimer(SIPPublicationTimer)
    /// The composed state of a resource changed (`nil`: no publication left); pass it to
    /// ``SIPNotifier/resourceStateChanged(event:resource:state:now:)`` so watchers are notified.
    case resourceStateChanged(event: String, resource: String, state: SIPEventBody?)
}

/// The Event State Compositor of RFC 3903: accepts PUBLISH (initial, refresh, modify, remove),
/// keeps publications by entity tag, expires them, and composes each resource's state from its
/// live publications with the package's ``SIPEventPackage/compose(_:)``.
public struct SIPEventStateCompositor: Sendable {
    /// Everything that must survive a restart (entity tags and their state).
    public struct Snapshot: Hashable, Sendable, Codable {
        public var publications: [SIPPublication]
        public var sequence: UInt64
    }

    private var packages: [String: any SIPEventPackage] = [:]
    public private(set) var publications: [String: SIPPublication] = [:]
    private var sequence: UInt64 = 0

    public init(packages: [any SIPEventPackage]) {
        for package in packages { self.packages[package.name] = package }
    }

    /// How many publications are alive.
    public var count: Int { publications.count }

    /// The composed state of a resource, `nil` when nothing is published.
    public func state(event: String, resource: String) -> SIPEventBody? {
        let live = publications.values.filter { $0.event == event && $0.resource == resource }.sorted { $0.sequence < $1.sequence }
        guard !live.isEmpty else { return nil }
        return packages[event]?.compose(live.map(\.state)) ?? live.last?.state
    }

    /// A PUBLISH arrived (RFC 3903 §6).
    ///
    /// 489 with Allow-Events for an unknown package; 400 without Event, with a malformed Expires,
    /// or for an initial PUBLISH without body; 415 with Accept for a body type the package does not
    /// take; 423 with Min-Expires for a too brief non-zero Expires; 412 when SIP-If-Match names no
    /// live publication of this event and resource. Otherwise 200 with a fresh SIP-ETag and the
    /// granted Expires; removal (`Expires: 0`) answers 200 with `Expires: 0`.
    public mutating func publishReceived(
        _ request: SIPRequest, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPCompositorAction] {
        guard let event = request.headers.event else {
            return [.sendResponse(Self.reject(400, request, "Missing or Malformed Event Header"))]
        }
        guard let package = packages[event.package] else {
            var response = SIPEventMessages.response(489, to: request)
            response.headers.allowEvents = packages.keys.sorted()
            return [.sendResponse(response)]
        }
        guard !request.headers.hasMalformedExpires else { return [.sendResponse(Self.reject(400, request, "Malformed Expires"))] }
        let body = request.eventBody
        if let body, !SIPEventBody.isAccepted(body.contentType, by: package.acceptedContentTypes) {
            var response = SIPEventMessages.response(415, to: request)
            response.headers.add(name: "Accept", value: package.acceptedContentTypes.joined(separator: ", "))
            return [.sendResponse(response)]
        }
        let expires: Int
        switch package.expiresPolicy.decide(requested: request.headers.expires) {
        case .tooBrief(let minimum):
            var response = SIPEventMessages.response(423, to: request)
            response.headers.minExpires = minimum
            return [.sendResponse(response)]
        case .grant(let seconds):
            expires = seconds
        }
        let resource = SIPEventResource.key(for: request.uri)

        guard let ifMatch = request.headers.sipIfMatch else {
            // Initial publication (§6 step 4): needs a body.
            guard let body, expires > 0 else {
                return [.sendResponse(Self.reject(400, request, body == nil ? "Initial PUBLISH Without Body" : "Initial PUBLISH With Expires 0"))]
            }
            let tag = freshTag(using: &generator)
            sequence += 1
            publications[tag] = SIPPublication(entityTag: tag, event: event.package, resource: resource, state: body, expiresAt: now + .seconds(expires), sequence: sequence)
            return [.sendResponse(ok(request, tag: tag, expires: expires)), .scheduleTimer(.expiry(entityTag: tag), after: .seconds(expires))]
                + [.resourceStateChanged(event: event.package, resource: resource, state: state(event: event.package, resource: resource))]
        }
        guard var publication = publications[ifMatch], publication.event == event.package, publication.resource == resource else {
            return [.sendResponse(SIPEventMessages.response(412, to: request))]
        }
        publications[ifMatch] = nil
        if expires == 0 {
            // Removal (§6 step 6).
            var response = SIPEventMessages.response(200, to: request)
            response.headers.expires = 0
            return [.sendResponse(response), .cancelTimer(.expiry(entityTag: ifMatch))]
                + [.resourceStateChanged(event: event.package, resource: resource, state: state(event: event.package, resource: resource))]
        }
        let tag = freshTag(using: &generator)
        publication.entityTag = tag
        publication.expiresAt = now + .seconds(expires)
        var actions: [SIPCompositorAction] = [
            .sendResponse(ok(request, tag: tag, expires: expires)), .cancelTimer(.expiry(entityTag: ifMatch)),
            .scheduleTimer(.expiry(entityTag: tag), after: .seconds(expires)),
        ]
        if let body {
            // Modification (§6 step 5): the new state replaces the old.
            sequence += 1
            publication.state = body
            publication.sequence = sequence
            publications[tag] = publication
            actions.append(.resourceStateChanged(event: event.package, resource: resource, state: state(event: event.package, resource: resource)))
        } else {
            // Refresh: same state, new tag.
            publications[tag] = publication
        }
        return actions
    }

    /// A publication's expiry timer fired: remove it (RFC 3903 §6 step 8).
    public mutating func timerFired(_ timer: SIPPublicationTimer, now: SIPEventInstant) -> [SIPCompositorAction] {
        switch timer {
        case .expiry(let tag):
            guard let publication = publications[tag], publication.expiresAt <= now else { return [] }
            publications[tag] = nil
            return [.resourceStateChanged(event: publication.event, resource: publication.resource, state: state(event: publication.event, resource: publication.resource))]
        }
    }

    /// The state to save.
    public var snapshot: Snapshot {
        Snapshot(publications: publications.values.sorted { $0.sequence < $1.sequence }, sequence: sequence)
    }

    /// Replaces the state with a saved one, re-arming expiry timers relative to `now` and
    /// removing what expired meanwhile.
    public mutating func restore(_ snapshot: Snapshot, now: SIPEventInstant) -> [SIPCompositorAction] {
        publications = [:]
        sequence = max(snapshot.sequence, snapshot.publications.map(\.sequence).max() ?? 0)
        var actions: [SIPCompositorAction] = []
        var expired: [SIPPublication] = []
        for publication in snapshot.publications {
            if publication.expiresAt <= now {
                expired.append(publication)
            } else {
                publications[publication.entityTag] = publication
                actions.append(.scheduleTimer(.expiry(entityTag: publication.entityTag), after: publication.expiresAt - now))
            }
        }
        for publication in expired {
            actions.append(.resourceStateChanged(event: publication.event, resource: publication.resource, state: state(event: publication.event, resource: publication.resource)))
        }
        return actions
    }

    private func freshTag(using generator: inout some RandomNumberGenerator) -> String {
        var tag = SIPEventMessages.token(length: 16, using: &generator)
        while publications[tag] != nil { tag = SIPEventMessages.token(length: 16, using: &generator) }
        return tag
    }

    private func ok(_ request: SIPRequest, tag: String, expires: Int) -> SIPResponse {
        var response = SIPEventMessages.response(200, to: request)
        response.headers.sipETag = tag
        response.headers.expires = expires
        return response
    }

    private static func reject(_ status: Int, _ request: SIPRequest, _ reason: String) -> SIPResponse {
        var response = SIPEventMessages.response(status, to: request)
        response.reasonPhrase = reason
        return response
    }
}
