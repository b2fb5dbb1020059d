import Presence
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

/// SplitMix64, so tags repeat from run to run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64 = 7
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum PresenceFixtures {
    static let alice = SIPURI(user: "alice", host: "atlanta.example.com")
    static let watcher = SIPURI(user: "watcher", host: "biloxi.example.com")
    static let agent = SIPURI(user: "presence", host: "192.0.2.20", port: 5060)

    static func request(
        _ method: SIPMethod, to target: SIPURI = alice, from: SIPURI = watcher, callID: String, expires: Int? = 3600,
        body: SIPEventBody? = nil, extra: [(String, String)] = []
    ) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Via", value: "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK\(callID)")
        headers.add(name: "Max-Forwards", value: "70")
        headers.add(name: "To", value: "<\(target)>")
        headers.add(name: "From", value: "<\(from)>;tag=f-\(callID)")
        headers.add(name: "Call-ID", value: callID)
        headers.add(name: "CSeq", value: "1 \(method.rawValue)")
        headers.add(name: "Contact", value: "<sip:watcher@192.0.2.10:5060>")
        headers.add(name: "Event", value: "presence")
        if let expires { headers.add(name: "Expires", value: String(expires)) }
        for (name, value) in extra { headers.add(name: name, value: value) }
        var request = SIPRequest(method: method, uri: target, headers: headers)
        request.eventBody = body
        return request
    }

    static func pidf(_ document: PresenceDocument) throws -> SIPEventBody { try document.eventBody() }
}

extension [SIPNotifierAction] {
    var notifyBodies: [SIPEventBody?] {
        compactMap { if case .sendNotify(let request, _) = $0 { request.eventBody } else { nil } }
    }
    var responseCodes: [Int] {
        compactMap { if case .sendResponse(let response) = $0 { response.statusCode } else { nil } }
    }
}

@Suite struct PresenceEventPackageTests {
    @Test func thePackageIsPresenceTakingPIDFWithARateLimit() {
        let package = PresenceEventPackage()
        #expect(package.name == "presence")
        #expect(package.acceptedContentTypes == ["application/pidf+xml"])
        #expect(package.minimumNotifyInterval == .seconds(5))
        #expect(package.expiresPolicy.decide(requested: nil) == .grant(3600))
    }

    @Test func aSubscriptionToAnUnknownPresentityGetsAnOfflineDocument() throws {
        var notifier = SIPNotifier(packages: [PresenceEventPackage()], localContact: PresenceFixtures.agent)
        var random = SeededGenerator()
        let actions = notifier.subscribeReceived(PresenceFixtures.request(.subscribe, callID: "s1"), now: .zero, using: &random)
        #expect(actions.responseCodes == [200])
        let body = try #require(actions.notifyBodies.first ?? nil)
        let document = try PresenceDocument(eventBody: body)
        #expect(document.entity == "sip:alice@atlanta.example.com")
        #expect(document.basicStatus == .closed)
        #expect(try PresenceSchemas.errors(body.text, against: PresenceSchemas.full()).isEmpty)
    }

    @Test func theFirstNotifyCarriesThePresentitysCurrentDocumentFromTheStore() throws {
        var store = PresentityStore()
        var notifier = SIPNotifier(packages: [PresenceEventPackage()], localContact: PresenceFixtures.agent)
        var random = SeededGenerator()
        let document = PresenceDocument(
            entity: "sip:alice@atlanta.example.com",
            tuples: [PresenceTuple(id: "gw", status: PresenceStatus(basic: .open))],
            persons: [PresencePerson(id: "p", activities: [.working])])
        let change = try store.publishLocally(document, for: PresenceFixtures.alice)
        #expect(change.resource == "sip:alice@atlanta.example.com")
        #expect(change.event == "presence")
        _ = notifier.resourceStateChanged(event: change.event, resource: change.resource, state: change.body, now: .zero)

        let actions = notifier.subscribeReceived(PresenceFixtures.request(.subscribe, callID: "s2"), now: .seconds(1), using: &random)
        let body = try #require(actions.notifyBodies.first ?? nil)
        #expect(try PresenceDocument(eventBody: body) == document)

        // A later local change reaches the watcher once the rate limit allows.
        var changed = document
        changed.persons[0].activities = [.away]
        let next = try store.publishLocally(changed, for: PresenceFixtures.alice)
        let later = notifier.resourceStateChanged(event: next.event, resource: next.resource, state: next.body, now: .seconds(10))
        let notified = try #require(later.notifyBodies.first ?? nil)
        #expect(try PresenceDocument(eventBody: notified).activities == [.away])
    }

    @Test func publicationsAreComposedByTupleAndPersonIdLatestWinning() throws {
        let package = PresenceEventPackage()
        let phone = try PresenceFixtures.pidf(
            PresenceDocument(
                entity: "sip:alice@atlanta.example.com",
                tuples: [PresenceTuple(id: "phone", status: PresenceStatus(basic: .open))],
                notes: ["from the phone"],
                persons: [PresencePerson(id: "p", activities: [.onThePhone])]))
        let gateway = try PresenceFixtures.pidf(
            PresenceDocument(
                entity: "sip:alice@atlanta.example.com",
                tuples: [PresenceTuple(id: "gateway", status: PresenceStatus(basic: .closed))],
                persons: [PresencePerson(id: "p", activities: [.away])]))
        let composed = try PresenceDocument(eventBody: try #require(package.compose([phone, gateway])))
        #expect(composed.tuples.map(\.id) == ["phone", "gateway"])
        #expect(composed.notes == ["from the phone"])
        #expect(composed.persons == [PresencePerson(id: "p", activities: [.away])])
        #expect(composed.basicStatus == .open)

        let garbage = SIPEventBody(contentType: "application/pidf+xml", text: "<oops")
        #expect(package.compose([garbage]) == garbage)
        #expect(try PresenceDocument(eventBody: try #require(package.compose([gateway, garbage]))) == PresenceDocument(eventBody: gateway))
        #expect(package.compose([]) == nil)
    }

    @Test func aPUBLISHFromBaresipUpdatesTheStoreAndWatchers() throws {
        var compositor = SIPEventStateCompositor(packages: [PresenceEventPackage()])
        var notifier = SIPNotifier(packages: [PresenceEventPackage()], localContact: PresenceFixtures.agent)
        var store = PresentityStore()
        var random = SeededGenerator()
        _ = notifier.subscribeReceived(PresenceFixtures.request(.subscribe, callID: "s3"), now: .zero, using: &random)

        let body = SIPEventBody(
            contentType: "application/pidf+xml",
            text: PresenceDocumentDecodeTests.baresip(basic: "open").replacingAlice(with: "sip:alice@atlanta.example.com"))
        let publish = PresenceFixtures.request(.publish, from: PresenceFixtures.alice, callID: "p1", body: body)
        let escActions = compositor.publishReceived(publish, now: .seconds(10), using: &random)
        let changes = store.apply(escActions)
        #expect(changes.count == 1)
        let change = try #require(changes.first)
        #expect(store.document(for: PresenceFixtures.alice)?.basicStatus == .open)
        #expect(store.document(for: PresenceFixtures.alice)?.tuples.first?.id == "t4109")

        // The node's own tuple joins the published one.
        let local = try store.publishLocally(
            PresenceDocument(entity: "sip:alice@atlanta.example.com", tuples: [PresenceTuple(id: "smf", status: PresenceStatus(basic: .closed))]),
            for: PresenceFixtures.alice)
        #expect(local.document?.tuples.map(\.id) == ["t4109", "smf"])

        let notifyActions = notifier.resourceStateChanged(event: change.event, resource: change.resource, state: change.body, now: .seconds(10))
        let notified = try #require(notifyActions.notifyBodies.first ?? nil)
        #expect(try PresenceDocument(eventBody: notified).basicStatus == .open)

        // Removing the publication (Expires: 0) leaves only the node's own tuple.
        let etag = try #require(escActions.compactMap { action -> String? in
            if case .sendResponse(let response) = action { response.headers.sipETag } else { nil }
        }.first)
        let remove = PresenceFixtures.request(.publish, from: PresenceFixtures.alice, callID: "p2", expires: 0, extra: [("SIP-If-Match", etag)])
        let removal = store.apply(compositor.publishReceived(remove, now: .seconds(20), using: &random))
        #expect(removal.first?.document?.tuples.map(\.id) == ["smf"])
        #expect(store.publishedDocuments.isEmpty)
    }

    @Test func aPUBLISHWithAnotherBodyTypeIsRefusedWith415() {
        var compositor = SIPEventStateCompositor(packages: [PresenceEventPackage()])
        var random = SeededGenerator()
        let publish = PresenceFixtures.request(
            .publish, from: PresenceFixtures.alice, callID: "p3", body: SIPEventBody(contentType: "text/plain", text: "online"))
        let actions = compositor.publishReceived(publish, now: .zero, using: &random)
        let codes = actions.compactMap { if case .sendResponse(let response) = $0 { response.statusCode } else { nil } }
        #expect(codes == [415])
    }

    @Test func theStoreIgnoresOtherPackagesAndForgetsWithdrawnDocuments() throws {
        var store = PresentityStore()
        let other: [SIPCompositorAction] = [
            .resourceStateChanged(event: "m2m-alarm", resource: "sip:alice@atlanta.example.com", state: SIPEventBody(contentType: "x/y", text: "z"))
        ]
        #expect(store.apply(other).isEmpty)
        #expect(store.resources.isEmpty)

        _ = try store.publishLocally(PresenceDocument(entity: "sip:alice@atlanta.example.com"), for: PresenceFixtures.alice)
        #expect(store.resources == ["sip:alice@atlanta.example.com"])
        let removed = store.removeLocal(for: PresenceFixtures.alice)
        #expect(removed.document == nil)
        #expect(removed.body == nil)
        #expect(store.resources.isEmpty)
    }

    @Test func anUnwritableLocalDocumentLeavesTheStoreUnchanged() throws {
        var store = PresentityStore()
        _ = try store.publishLocally(
            PresenceDocument(entity: "sip:alice@atlanta.example.com", tuples: [PresenceTuple(id: "ok")]), for: PresenceFixtures.alice)
        let before = store
        #expect(throws: PresenceError.self) {
            try store.publishLocally(
                PresenceDocument(entity: "sip:alice@atlanta.example.com", tuples: [PresenceTuple(id: "9 bad")]), for: PresenceFixtures.alice)
        }
        #expect(store == before)
    }
}

extension String {
    /// baresip's sample body with its AoR replaced.
    fileprivate func replacingAlice(with aor: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: "sip:alice@example.com") {
            result += rest[..<range.lowerBound] + aor
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
