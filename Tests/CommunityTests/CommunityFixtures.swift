import Overlay
import Testing

@testable import Community

/// A community with a founder, an admin and a member, built at a fixed virtual time.
struct CommunityFixture {
    static let start = OverlayInstant(milliseconds: 1_795_000_000_000)  // 2026-11-18

    let founding: CommunityFounding
    let founderIdentity = NodeIdentity.generate()
    var founder: CommunityMember
    var community: Community { founding.community }

    init(name: String = "north-street") throws {
        founding = try Community.found(name: name, founder: founderIdentity, now: Self.start)
        founder = try CommunityMember(founding: founding, identity: founderIdentity, now: Self.start)
    }

    /// Invites and admits a new node with `role`, through `admitter` (the founder by default).
    mutating func admit(role: MemberRole = .member, at now: OverlayInstant = start) throws -> CommunityMember {
        try admit(role: role, by: &founder, at: now)
    }

    func admit(role: MemberRole = .member, by admitter: inout CommunityMember, at now: OverlayInstant = start) throws -> CommunityMember {
        let identity = NodeIdentity.generate()
        let invitation = try admitter.invite(role: role, expiry: now.advanced(by: .seconds(3600)), bootstrap: ["sip:127.0.0.1:5060"], now: now)
        let admission = try admitter.admit(JoinRequest(invitation: invitation, joiner: identity), now: now)
        return try CommunityMember(identity: identity, credential: admission.credential, community: community, now: now)
    }
}

/// The error thrown by `body`, which must throw a ``CommunityError``.
func communityError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CommunityError? {
    do {
        try body()
        Issue.record("expected a CommunityError", sourceLocation: sourceLocation)
        return nil
    } catch let error as CommunityError {
        return error
    } catch {
        Issue.record("expected a CommunityError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
