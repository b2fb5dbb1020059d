import Community
import Foundation
import Overlay
import SIPSyntax
import SMFNode
import Testing

/// Communities in running nodes (issue 5): real `smf run` processes on 127.0.0.1, membership over real sockets.
@Suite(.serialized) struct CommunityProcessTests {
    /// The stabilisation period of the nodes under test.
    static let stabilizeMs = 1000

    private static func start(_ data: URL? = nil, port: Int? = nil) async throws -> OverlayProcess {
        // Every node offers one service type, which the members list shows.
        try await OverlayProcess(dataDirectory: data, port: port, stabilizeMs: stabilizeMs, timeoutMs: 500, extraArguments: ["--offer", "sensor-forwarder"])
    }

    /// Issue 5's list, in order: A founds the community; B and C join with invitations over real sockets; B creates a
    /// sub-community with approval policy, C (and A) ask and B approves; a rogue D with its own keys is refused on
    /// the ring, on the sub-community's service and when it replays a NOTIFY it captured, and nothing changes; A
    /// revokes C and C is refused within one stabilisation period; everything survives a restart of every node.
    @Test func communityAdmitsMembersKeepsStrangersOutAndSurvivesRestart() async throws {
        let nodes = try await Self.startNodes(3)
        defer { for node in nodes { node.cleanUp() } }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])

        // Found on A; invite and join B and C.
        let created = try await a.succeed(["community", "create", "north-street"])
        #expect(created.contains("community:    north-street"))
        #expect(created.contains("role:         owner"))
        let summary = try #require(try await a.communities().first)
        let id = summary.id
        let short = String(id.prefix(12))
        #expect(summary.ring == "joined")
        for node in [b, c] {
            let token = try await a.invitation()
            let joined = try await node.succeed(["community", "join", token, "--bootstrap", a.address])
            #expect(joined.contains("joined community \"north-street\" (\(short)) as member; ring: joined"), "\(joined)")
        }
        let (idA, idB, idC) = (try await a.nodeID(), try await b.nodeID(), try await c.nodeID())
        let everyone = Set([idA, idB, idC])
        let membersKnown = try await pollUntil(within: .seconds(30)) {
            for node in [a, b, c] where Set(try await node.members().map(\.nodeID)) != everyone { return false }
            return true
        }
        #expect(membersKnown, "every node lists A, B and C")
        let roles = Dictionary(uniqueKeysWithValues: try await b.members().map { ($0.nodeID, $0.role) })
        #expect(roles == [idA: "owner", idB: "member", idC: "member"])
        #expect(try await b.members().first { $0.nodeID == idC }?.services == ["sensor-forwarder"], "members list the service types they offer")
        let ringFormed = try await pollUntil(within: .seconds(30)) { try await communityRingFormed([a, b, c], community: "north-street") }
        #expect(ringFormed, "A, B and C form the community's ring")

        // B creates a sub-community with approval policy; C asks, B approves.
        let sub = "surveillance/north"
        #expect(try await b.succeed(["sub", "create", sub, "--policy", "approval"]).contains("created sub-community \(sub) in north-street"))
        #expect(try await c.succeed(["sub", "join", sub]).contains("requested to join \(sub) (an owner has to approve the request)"))
        let pending = try await b.subMembers(sub)
        #expect(pending.first { $0.nodeID == idC }?.state == "pending")
        #expect(pending.first { $0.nodeID == idB }?.role == "owner")
        #expect(try await b.succeed(["sub", "approve", sub, String(idC.prefix(8))]).contains("approved \(idC) in \(sub)"))
        let approved = try await pollUntil(within: .seconds(20)) {
            try await c.subMembers(sub).filter { $0.state == "member" }.map(\.nodeID).sorted() == [idB, idC].sorted()
        }
        #expect(approved, "C sees B and C as members of \(sub)")
        #expect(try await c.succeed(["sub", "list"]).contains("\(sub)  approval  1       member"))

        // The sub-community's service (its membership events at B) is for its members: A, a community member
        // outside it, is refused.
        let service = "sip:membership.\(short).\(sub)@127.0.0.1"
        let target = "\(service):\(b.port)"
        let outsider = try await a.smf(["presence", "watch", target, "--package", "smf-membership", "--count", "1"])
        #expect(outsider.status == 1 && outsider.output.contains("refused with 403"), "\(outsider.output)")

        // C watches it through a TCP relay: the relay sees B's NOTIFYs.
        let relay = try await TCPRelay(target: b.port)
        defer { relay.close() }
        let watch = try await c.smf(["presence", "watch", "\(service):\(relay.port);transport=tcp", "--package", "smf-membership", "--count", "1"])
        #expect(watch.status == 0, "\(watch.output)")
        #expect(watch.output.contains("smf-membership active"), "\(watch.output)")
        let captured = try #require(sipMessages(in: relay.fromTarget).first { $0.hasPrefix("NOTIFY ") }, "the relay saw B's NOTIFY")
        #expect(captured.contains("SMF-Signature: v=1;"), "B signs its NOTIFY")

        // What must not change while D tries.
        let subscriptionsBefore = try await Self.subscriptions(of: b)
        let membersBefore = try await a.members().map(\.nodeID).sorted()
        let subMembersBefore = try await b.subMembers(sub)

        // Rogue D: its own keys and its own community of the same name.
        let d = try RogueNode(communityName: "north-street")
        let stolen = try MembershipCredential(text: try #require(headerValue("SMF-Member", in: captured)))
        // 1. Joining the community's ring.
        let join = try await exchange(wireText(d.ringJoin(ring: id, port: a.port, signedWith: d.founding.founderCredential)), port: a.port)
        #expect(join.status == "SIP/2.0 403 Not A Member Of This Community", "\(join)")
        let unsignedJoin = try await exchange(wireText(d.ringJoin(ring: id, port: a.port, signedWith: nil)), port: a.port)
        #expect(unsignedJoin.status == "SIP/2.0 403 Membership Proof Required")
        let stolenJoin = try await exchange(wireText(d.ringJoin(ring: id, port: a.port, signedWith: stolen)), port: a.port)
        #expect(stolenJoin.status == "SIP/2.0 403 Bad Request Signature", "B's credential signed with D's key")
        // 2. Subscribing to the sub-community's service at B.
        for (credential, expected) in [
            (nil, "SIP/2.0 403 Membership Proof Required"), (d.founding.founderCredential, "SIP/2.0 403 Not A Member Of This Community"),
            (stolen, "SIP/2.0 403 Bad Request Signature"),
        ] as [(MembershipCredential?, String)] {
            let answer = try await exchange(wireText(try d.subscribe(to: target, package: "smf-membership", signedWith: credential, callID: UUID().uuidString)), port: b.port)
            #expect(answer.status == expected, "\(answer)")
        }
        // 3. Replaying the captured NOTIFY to C (from D's own socket), as is and altered.
        let replayed = try await exchange(Self.fromNewSocket(captured), port: c.port)
        #expect(replayed.status == "SIP/2.0 403 Replayed Request", "\(replayed)")
        let altered = try await exchange(Self.fromNewSocket(captured.replacingOccurrences(of: " at=1", with: " at=2")), port: c.port)
        #expect(altered.status == "SIP/2.0 403 Bad Request Signature", "\(altered)")

        // Nothing changed.
        #expect(try await Self.subscriptions(of: b) == subscriptionsBefore)
        #expect(try await a.members().map(\.nodeID).sorted() == membersBefore)
        #expect(try await b.subMembers(sub) == subMembersBefore)
        let dInRing = try await a.ringStatus("north-street").map { status in
            ([status.predecessor] + status.successors + status.fingers).contains { $0?.id == d.identity.nodeID.description }
        }
        #expect(dInRing == false, "D is in no routing table of A's community ring")

        // A revokes C: C's next request is refused within one stabilisation period.
        let before = try await c.smf(["presence", "watch", "sip:membership.\(short)@127.0.0.1:\(b.port)", "--package", "smf-membership", "--count", "1"])
        #expect(before.status == 0, "C is a member before: \(before.output)")
        #expect(try await a.succeed(["community", "revoke", String(idC.prefix(8)), "--reason", "moved away"]).contains("revoked \(idC) (member)"))
        let delay = try #require(
            try await Self.refusal(of: c, fetching: "sip:membership.\(short)@127.0.0.1", at: b.port, since: ContinuousClock.now),
            "B refuses C after the revocation")
        print("community.revocation_refused_after \(Self.milliseconds(delay)) ms")
        #expect(delay <= .milliseconds(Self.stabilizeMs), "refused within one stabilisation period, not after \(delay)")
        let revokedWatch = try await c.smf(["presence", "watch", "sip:membership.\(short)@127.0.0.1:\(b.port)", "--package", "smf-membership", "--count", "1"])
        #expect(revokedWatch.status == 1 && revokedWatch.output.contains("refused with 403"), "C's own watch is refused: \(revokedWatch.output)")
        // A joins the sub-community too (approved by B), so the restart below has a sub-community member to keep.
        #expect(try await a.succeed(["sub", "join", sub]).contains("requested to join \(sub)"))
        #expect(try await b.succeed(["sub", "approve", sub, String(idA.prefix(8))]).contains("approved \(idA) in \(sub)"))
        let gone = try await pollUntil(within: .seconds(10)) {
            let atB = try await b.members().map(\.nodeID).sorted()
            let atA = try await a.members().map(\.nodeID)
            return atB == [idA, idB].sorted() && !atA.contains(idC)
        }
        #expect(gone, "A and B no longer list C")

        // Every node restarts (A first, then B and C); membership comes back from SQLite.
        for node in [a, b, c] { try await node.stop(with: SIGTERM) }
        let a2 = try await Self.start(a.dataDirectory, port: a.port)
        defer { a2.cleanUp() }
        let aBack = try await pollUntil(within: .seconds(30)) { try await a2.communities().first?.ring == "joined" }
        #expect(aBack)
        let b2 = try await Self.start(b.dataDirectory, port: b.port)
        defer { b2.cleanUp() }
        let c2 = try await Self.start(c.dataDirectory, port: c.port)
        defer { c2.cleanUp() }
        #expect(try await a2.communities().map(\.id) == [id])
        #expect(try await b2.members().map(\.nodeID).sorted() == [idA, idB].sorted(), "the revocation of C survived")
        let roles2 = Dictionary(uniqueKeysWithValues: try await a2.members().map { ($0.nodeID, $0.role) })
        #expect(roles2 == [idA: "owner", idB: "member"])
        let subAfter = try await b2.subMembers(sub).map { "\($0.nodeID) \($0.role) \($0.state)" }.sorted()
        #expect(subAfter == ["\(idA) member member", "\(idB) owner member"].sorted(), "the sub-community survived, without C")
        let ringBack = try await pollUntil(within: .seconds(40)) { try await communityRingFormed([a2, b2], community: "north-street") }
        #expect(ringBack, "A and B form the ring again after the restart")
        let afterRestart = try await c2.smf(["presence", "watch", "sip:membership.\(short)@127.0.0.1:\(b.port)", "--package", "smf-membership", "--count", "1"])
        #expect(afterRestart.status == 1 && afterRestart.output.contains("refused with 403"), "C stays refused: \(afterRestart.output)")
        let aWatches = try await a2.smf(["presence", "watch", "\(service):\(b.port)", "--package", "smf-membership", "--count", "1"])
        #expect(aWatches.status == 0, "A's sub-community certificate survived: \(aWatches.output)")
    }

    /// `count` fresh nodes; the ones started are stopped again when a later one fails to start.
    private static func startNodes(_ count: Int) async throws -> [OverlayProcess] {
        var nodes: [OverlayProcess] = []
        do {
            for _ in 0..<count { nodes.append(try await start()) }
        } catch {
            for node in nodes { node.cleanUp() }
            throw error
        }
        return nodes
    }

    /// How long after `start` a fetch of `resource` (package smf-membership) signed as `node`, sent to `port` again and
    /// again, is first refused with 403; nil when it is not within 15 s. Each attempt is one TCP exchange from the test
    /// (no `smf` process to start), so on a loaded machine the figure is still the node's delay, not process start-up.
    /// An attempt that gets no answer (a node still starting) is not a refusal; the next one follows.
    private static func refusal(of node: OverlayProcess, fetching resource: String, at port: Int, since start: ContinuousClock.Instant) async throws
        -> Duration?
    {
        var last = "no attempt"
        while ContinuousClock.now - start < .seconds(15) {
            do {
                last = try await node.signedFetch(of: resource, package: "smf-membership", port: port)
                if last.hasPrefix("SIP/2.0 403 ") { return ContinuousClock.now - start }
            } catch let error as ProcessTestError {
                last = error.description
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        print("no refusal of \(resource) at port \(port) within 15 s; last answer: \(last)")
        return nil
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A node's subscriptions as `role package peer state` (without the times that run down).
    private static func subscriptions(of node: OverlayProcess) async throws -> [String] {
        let output = try await node.succeed(["subscriptions", "--json"])
        return try JSONDecoder().decode([SubscriptionRow].self, from: Data(output.utf8)).map { "\($0.role) \($0.package) \($0.peer) \($0.state)" }.sorted()
    }

    /// A member that is down while a revocation is issued learns it within one stabilisation period of coming back
    /// (the revoker sends it again every period until it is taken; the ring holds it too), and keeps refusing the
    /// revoked member.
    @Test func revocationReachesAMemberThatWasDownWhenItComesBack() async throws {
        let nodes = try await Self.startNodes(3)
        defer { for node in nodes { node.cleanUp() } }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        try await a.succeed(["community", "create", "north-street"])
        for node in [b, c] { try await node.succeed(["community", "join", try await a.invitation(), "--bootstrap", a.address]) }
        let short = String(try #require(try await a.communities().first).id.prefix(12))
        let idC = try await c.nodeID()
        let resourceAtB = "sip:membership.\(short)@127.0.0.1:\(b.port)"
        let admitted = try await c.smf(["presence", "watch", resourceAtB, "--package", "smf-membership", "--count", "1"])
        #expect(admitted.status == 0, "\(admitted.output)")

        try await b.stop(with: SIGTERM)
        try await a.succeed(["community", "revoke", String(idC.prefix(8))])
        let b2 = try await Self.start(b.dataDirectory, port: b.port)
        defer { b2.cleanUp() }
        let delay = try #require(
            try await Self.refusal(of: c, fetching: "sip:membership.\(short)@127.0.0.1", at: b.port, since: ContinuousClock.now), "B refuses C once it is back")
        print("community.revocation_after_restart_refused_after \(Self.milliseconds(delay)) ms")
        #expect(delay <= .milliseconds(2 * Self.stabilizeMs), "within one stabilisation period of B's return (plus one for B's start), not \(delay)")
        let revokedWatch = try await c.smf(["presence", "watch", resourceAtB, "--package", "smf-membership", "--count", "1"])
        #expect(revokedWatch.status == 1 && revokedWatch.output.contains("refused with 403"), "C's own watch is refused: \(revokedWatch.output)")
        #expect(!(try await b2.members().map(\.nodeID).contains(idC)))
    }

    /// The captured request as D sends it from its own socket: the same bytes with D's Via (not covered by the
    /// signature), so it is a new transaction and not a retransmission the transport would absorb.
    private static func fromNewSocket(_ message: String) -> String {
        var lines = message.components(separatedBy: "\r\n")
        lines.removeAll { $0.lowercased().hasPrefix("via:") || $0.lowercased().hasPrefix("v:") }
        lines.insert("Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-replay-\(UInt32.random(in: 0...UInt32.max))", at: 1)
        return lines.joined(separator: "\r\n")
    }

    /// Two communities of the same name on one machine, and a node in both: each community's ring holds its own
    /// records, its members see only its members, and its services refuse the other's members.
    @Test func twoCommunitiesOnOneMachineDoNotSeeEachOther() async throws {
        let nodes = try await Self.startNodes(3)
        defer { for node in nodes { node.cleanUp() } }
        let (x1, y1, both) = (nodes[0], nodes[1], nodes[2])
        try await x1.succeed(["community", "create", "north-street"])
        try await y1.succeed(["community", "create", "north-street"])
        let x = try #require(try await x1.communities().first).id
        let y = try #require(try await y1.communities().first).id
        #expect(x != y, "the same name with another founding key is another community")
        try await both.succeed(["community", "join", try await x1.invitation(), "--bootstrap", x1.address])
        try await both.succeed(["community", "join", try await y1.invitation(), "--bootstrap", y1.address])
        let ambiguous = try await both.smf(["community", "members"])
        #expect(ambiguous.status == 1 && ambiguous.output.contains("belongs to several communities"), "\(ambiguous.output)")
        let formed = try await pollUntil(within: .seconds(30)) {
            let ringX = try await communityRingFormed([x1, both], community: String(x.prefix(12)))
            let ringY = try await communityRingFormed([y1, both], community: String(y.prefix(12)))
            return ringX && ringY
        }
        #expect(formed, "one ring per community, the shared node in both")

        // Records: each ring holds its own.
        try await x1.succeed(["overlay", "put", "--community", "north-street", "secret", "only-x"])
        try await y1.succeed(["overlay", "put", "--community", "north-street", "secret", "only-y"])
        #expect(try await both.succeed(["overlay", "get", "--community", String(x.prefix(12)), "secret"]) == "only-x\n")
        #expect(try await both.succeed(["overlay", "get", "--community", String(y.prefix(12)), "secret"]) == "only-y\n")
        let defaultRing = try await both.smf(["overlay", "get", "secret"])
        #expect(defaultRing.status == 1, "the node's default ring holds neither: \(defaultRing.output)")

        // Members: each community lists its own.
        let (idX1, idY1, idBoth) = (try await x1.nodeID(), try await y1.nodeID(), try await both.nodeID())
        let listed = try await pollUntil(within: .seconds(20)) {
            let inX = Set(try await both.members(String(x.prefix(12))).map(\.nodeID))
            let inY = Set(try await both.members(String(y.prefix(12))).map(\.nodeID))
            return inX == [idX1, idBoth] && inY == [idY1, idBoth]
        }
        #expect(listed)
        #expect(Set(try await x1.members().map(\.nodeID)).isDisjoint(with: [idY1]))

        // Services: Y's member is refused X's membership service, X's member gets it.
        let xService = "sip:membership.\(x.prefix(12))@127.0.0.1:\(x1.port)"
        let fromY = try await y1.smf(["presence", "watch", xService, "--package", "smf-membership", "--count", "1"])
        #expect(fromY.status == 1 && fromY.output.contains("refused with 403"), "\(fromY.output)")
        let fromBoth = try await both.smf(["presence", "watch", xService, "--package", "smf-membership", "--count", "1"])
        #expect(fromBoth.status == 0, "\(fromBoth.output)")
        let d = try RogueNode(communityName: "north-street")
        let foreign = try await exchange(
            wireText(try d.subscribe(to: xService, package: "smf-membership", signedWith: d.founding.founderCredential, callID: "cross")), port: x1.port)
        #expect(foreign.status == "SIP/2.0 403 Not A Member Of This Community")
        #expect(foreign.body.contains("belongs to community"), "the body says which community: \(foreign.body)")
    }

    /// `smf community join` says exactly what is wrong with a malformed, expired, foreign, altered or used
    /// invitation, and nothing is stored at either end.
    @Test func invitationProblemsReachTheUserIntact() async throws {
        let nodes = try await Self.startNodes(3)
        defer { for node in nodes { node.cleanUp() } }
        let (a, other, joiner) = (nodes[0], nodes[1], nodes[2])
        try await a.succeed(["community", "create", "north-street"])
        try await other.succeed(["community", "create", "harbour-coop"])

        func join(_ token: String, through peer: OverlayProcess = a) async throws -> ProcessResult {
            try await joiner.smf(["community", "join", token, "--bootstrap", peer.address])
        }
        let malformed = try await join("smf1.only-two")
        #expect(malformed.status == 1)
        #expect(
            malformed.output
                == "smf community join: malformed invitation: expected 3 dot-separated parts (smf1.<payload>.<signature>), found 2\n")
        let version = try await join("smf2.aaaa.bbbb")
        #expect(version.output == "smf community join: invitation version smf2 is not supported; this node reads smf1 tokens\n")
        let notAToken = try await join("hello")
        #expect(notAToken.output == "smf community join: malformed invitation: expected a token starting with smf1., found \"hello\"\n")

        let shortLived = try await a.invitation(["--expires", "1s"])
        try await Task.sleep(for: .milliseconds(1500))
        let expired = try await join(shortLived)
        #expect(expired.status == 1)
        #expect(expired.output.hasPrefix("smf community join: the invitation to \"north-street\" ("), "\(expired.output)")
        #expect(expired.output.contains(") expired at 20") && expired.output.contains("(it is now 20"), "\(expired.output)")

        let foreignToken = try await other.invitation()
        let foreign = try await join(foreignToken, through: a)
        #expect(foreign.status == 1)
        #expect(foreign.output.hasPrefix("smf community join: \(a.address) refused the invitation (403 Invitation For Another Community): the invitation is for community \"harbour-coop\" ("), "\(foreign.output)")
        #expect(foreign.output.contains("not \"north-street\" ("))

        let token = try await a.invitation()
        var parts = token.split(separator: ".").map(String.init)
        let signature = Array(parts[2])
        parts[2] = String(signature[0..<10]) + (signature[10] == "A" ? "B" : "A") + String(signature[11...])
        let altered = try await join(parts.joined(separator: "."))
        #expect(altered.status == 1)
        #expect(altered.output.hasPrefix("smf community join: the invitation's signature does not verify against its issuer "), "\(altered.output)")

        #expect(try await joiner.communities().isEmpty, "nothing was stored at the joiner")
        #expect(try await a.members().count == 1, "nothing was stored at the admitting peer")

        try await joiner.succeed(["community", "join", token, "--bootstrap", a.address])
        let second = try await Self.start()
        defer { second.cleanUp() }
        let reused = try await second.smf(["community", "join", token, "--bootstrap", a.address])
        #expect(reused.status == 1)
        #expect(reused.output.contains("refused the invitation (403 Invitation Already Used): the invitation (nonce "), "\(reused.output)")
        #expect(reused.output.contains("was already used"))
    }
}
