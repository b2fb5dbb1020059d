import Crypto
import NIOCore
public import Overlay
public import SIPSyntax

/// The header names carrying a request's membership proof.
public enum MembershipHeaders {
    /// The sender's ``MembershipCredential``, URL-safe base64.
    public static let member = "SMF-Member"
    /// One sub-community ``MemberCertificate`` per field, URL-safe base64.
    public static let subMember = "SMF-Sub-Member"
    /// `v=1;ts=<ms>;nonce=<32 hex>;sig=<URL-safe base64>`.
    public static let signature = "SMF-Signature"
}

/// Signs outgoing requests of a community (SUBSCRIBE, NOTIFY, PUBLISH, MESSAGE, overlay REGISTER) with the
/// member key, so the receiver can check who sent them, that nothing covered was changed, and that they
/// are not replayed.
///
/// The signature covers the method, Request-URI, From, To, Call-ID, CSeq, Event, the timestamp, the nonce,
/// SHA-256 of the body and SHA-256 of the membership headers (see ``RequestVerifier``). Sign last, just
/// before the request is sent: changing a covered field afterwards makes it fail verification.
public struct RequestSigner: Sendable {
    /// The member key.
    public let identity: NodeIdentity
    /// The member's community credential.
    public let credential: MembershipCredential
    /// Sub-community certificates to present (e.g. for a sub-community's services).
    public var subCommunityCertificates: [MemberCertificate]

    /// A signer for `identity` with its credential.
    public init(identity: NodeIdentity, credential: MembershipCredential, subCommunityCertificates: [MemberCertificate] = []) {
        self.identity = identity
        self.credential = credential
        self.subCommunityCertificates = subCommunityCertificates
    }

    /// Adds (or replaces) `SMF-Member`, `SMF-Sub-Member` and `SMF-Signature` on `request`.
    /// - Parameters:
    ///   - now: The signing time (the clock is passed in).
    ///   - nonce: 16 bytes, unique per request; random when nil.
    public func sign(_ request: inout SIPRequest, now: OverlayInstant, nonce: [UInt8]? = nil) {
        var generator = SystemRandomNumberGenerator()
        let nonce = nonce ?? (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        request.headers.remove(MembershipHeaders.subMember)
        request.headers.replaceOrAdd(name: MembershipHeaders.member, value: credential.text)
        for certificate in subCommunityCertificates {
            request.headers.add(name: MembershipHeaders.subMember, value: Base64URL.encode(certificate.encoded))
        }
        let nonceText = hexString(nonce)
        let data = RequestCanonicalForm.bytes(of: request, timestamp: now.milliseconds, nonce: nonceText)
        let signature = identity.sign(data)
        request.headers.replaceOrAdd(
            name: MembershipHeaders.signature,
            value: "v=1;ts=\(now.milliseconds);nonce=\(nonceText);sig=\(Base64URL.encode(signature))")
    }

    /// A signed copy of `request`.
    public func signed(_ request: SIPRequest, now: OverlayInstant, nonce: [UInt8]? = nil) -> SIPRequest {
        var copy = request
        sign(&copy, now: now, nonce: nonce)
        return copy
    }
}

/// The exact bytes a request signature covers.
enum RequestCanonicalForm {
    static let coveredHeaders = ["From", "To", "Call-ID", "CSeq", "Event"]

    static func bytes(of request: SIPRequest, timestamp: Int64, nonce: String) -> [UInt8] {
        var text = "smf-request-v1\n\(request.method.rawValue)\n\(request.uri.description)\n"
        for name in coveredHeaders {
            text += (request.headers[name] ?? "").trimmingWhitespace() + "\n"
        }
        text += "\(timestamp)\n\(nonce)\n"
        text += hexString(SHA256.hash(data: Array(request.body.readableBytesView))) + "\n"
        var proof = (request.headers[MembershipHeaders.member] ?? "").trimmingWhitespace()
        for value in request.headers.values(MembershipHeaders.subMember) { proof += "\n" + value.trimmingWhitespace() }
        text += hexString(SHA256.hash(data: Array(proof.utf8)))
        return Array(text.utf8)
    }
}

/// A request's sender as verified: the member and the sub-communities it proved membership of.
public struct AuthenticatedMember: Hashable, Sendable {
    /// The verified community member.
    public let member: VerifiedMember
    /// The sub-communities whose certificates verified, sorted by name.
    public let subCommunities: [String]

    /// The sender's Node-ID.
    public var nodeID: NodeID { member.nodeID }
    /// The sender's role.
    public var role: MemberRole { member.role }
}

/// Why a request was refused; answer it with ``statusCode`` (403) and ``reasonPhrase``.
public struct RequestRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reason.
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// No `SMF-Member` or `SMF-Signature` header.
        case missingProof
        /// A membership header could not be parsed.
        case malformedProof
        /// The credential belongs to another community.
        case foreignCommunity
        /// The credential does not chain to the founding key (a stranger's own keys, a forged certificate).
        case notMember
        /// The sender (or whoever admitted it) was revoked.
        case revoked
        /// The sender's certificate expired.
        case expired
        /// The signature does not match the request (modified, or signed with another key).
        case badSignature
        /// The timestamp is outside the accepted window.
        case stale
        /// The nonce was already seen within the window: a captured request sent again.
        case replayed
        /// The replay cache is full of live entries; try again later.
        case replayCacheFull
    }

    /// The reason.
    public let code: Code
    /// What exactly is wrong, for logs.
    public let detail: String

    /// The response status: always 403 Forbidden (RFC 3261 §21.4.4).
    public var statusCode: Int { 403 }

    /// A short reason phrase for the 403.
    public var reasonPhrase: String {
        switch code {
        case .missingProof: "Membership Proof Required"
        case .malformedProof: "Malformed Membership Proof"
        case .foreignCommunity: "Not A Member Of This Community"
        case .notMember: "Not A Member"
        case .revoked: "Membership Revoked"
        case .expired: "Membership Expired"
        case .badSignature: "Bad Request Signature"
        case .stale: "Stale Request Timestamp"
        case .replayed: "Replayed Request"
        case .replayCacheFull: "Replay Cache Full"
        }
    }

    public var description: String { "\(statusCode) \(reasonPhrase): \(detail)" }
}

/// The outcome of checking a request.
public enum RequestDecision: Hashable, Sendable {
    /// The sender is a member; go on.
    case member(AuthenticatedMember)
    /// Refuse with 403 and the refusal's reason phrase; change nothing.
    case refused(RequestRefusal)
}

/// Checks the membership proof of incoming requests of one community, with a replay cache.
///
/// Order: proof present and parseable → credential valid and unrevoked → timestamp within ±``window`` of
/// `now` → signature over the canonical form → nonce not seen within the window. Only a request that
/// passes everything enters the replay cache, so strangers cannot fill it.
public struct RequestVerifier: Sendable {
    /// Checks credentials and holds the revocations.
    public var membership: MembershipVerifier
    /// Known sub-communities by name, for `SMF-Sub-Member` certificates.
    public var subCommunities: [String: SubCommunity] = [:]
    /// How far a request's timestamp may be from `now`, either way.
    public let window: Duration
    private var replayCache: ReplayCache

    /// A verifier for `membership`'s community.
    /// - Parameters:
    ///   - window: The accepted clock difference and the time a nonce is remembered (default 30 s).
    ///   - replayCapacity: The most nonces remembered at once.
    public init(membership: MembershipVerifier, window: Duration = .seconds(30), replayCapacity: Int = 100_000) {
        self.membership = membership
        self.window = window
        replayCache = ReplayCache(capacity: replayCapacity, sweepInterval: window)
    }

    /// The community a request claims membership of (to pick the verifier in a node of several
    /// communities); nil when it carries no readable credential.
    public static func claimedCommunity(of request: SIPRequest) -> CommunityID? {
        guard let text = request.headers[MembershipHeaders.member], let credential = try? MembershipCredential(text: text.trimmingWhitespace()) else {
            return nil
        }
        return credential.leaf?.communityID
    }

    /// Checks `request`; on success remembers its nonce until the window passes.
    public mutating func verify(_ request: SIPRequest, now: OverlayInstant) -> RequestDecision {
        switch check(request, now: now) {
        case .success(let (member, nonce, timestamp)):
            let key = ReplayCache.Key(signer: member.member.publicKey, nonce: nonce)
            switch replayCache.insert(key, expiry: OverlayInstant(milliseconds: timestamp).advanced(by: window), now: now) {
            case .inserted: return .member(member)
            case .seen: return .refused(RequestRefusal(code: .replayed, detail: "nonce \(nonce) from \(member.nodeID.shortDescription) was already used"))
            case .full: return .refused(RequestRefusal(code: .replayCacheFull, detail: "\(replayCache.count) live nonces remembered"))
            }
        case .failure(let refusal):
            return .refused(refusal)
        }
    }

    private func check(_ request: SIPRequest, now: OverlayInstant) -> Result<(AuthenticatedMember, String, Int64), RequestRefusal> {
        guard let memberText = request.headers[MembershipHeaders.member], let signatureText = request.headers[MembershipHeaders.signature] else {
            return .failure(RequestRefusal(code: .missingProof, detail: "the request carries no \(MembershipHeaders.member) and \(MembershipHeaders.signature)"))
        }
        let credential: MembershipCredential
        do {
            credential = try MembershipCredential(text: memberText.trimmingWhitespace())
        } catch {
            return .failure(RequestRefusal(code: .malformedProof, detail: error.message))
        }
        let member: VerifiedMember
        do {
            member = try membership.verify(credential, now: now)
        } catch {
            let code: RequestRefusal.Code =
                switch error.code {
                case .foreign: .foreignCommunity
                case .revoked, .revokedIssuer: .revoked
                case .expired: .expired
                case .malformed, .wrongVersion: .malformedProof
                default: .notMember
                }
            return .failure(RequestRefusal(code: code, detail: error.message))
        }
        guard let parameters = Self.parameters(signatureText), parameters["v"] == "1",
            let tsText = parameters["ts"], let timestamp = Int64(tsText),
            let nonce = parameters["nonce"], nonce.utf8.count == 32, decodeHex(nonce) != nil,
            let sigText = parameters["sig"], let signature = Base64URL.decode(sigText)
        else {
            return .failure(RequestRefusal(code: .malformedProof, detail: "\(MembershipHeaders.signature) is not v=1;ts=<ms>;nonce=<32 hex>;sig=<base64url>"))
        }
        let age = now.milliseconds - timestamp
        let limit = window.overlayMillisecondsValue
        guard age <= limit, -age <= limit else {
            return .failure(
                RequestRefusal(
                    code: .stale, detail: "timestamp \(OverlayInstant(milliseconds: timestamp).iso8601) is \(age) ms from now, outside ±\(limit) ms"))
        }
        let data = RequestCanonicalForm.bytes(of: request, timestamp: timestamp, nonce: nonce)
        guard isValidSignature(signature, by: member.publicKey, over: data) else {
            return .failure(
                RequestRefusal(code: .badSignature, detail: "the signature of \(member.nodeID.shortDescription) does not match the request as received"))
        }
        var subs: [String] = []
        for value in request.headers.values(MembershipHeaders.subMember) {
            guard let raw = Base64URL.decode(value.trimmingWhitespace()), let certificate = try? MemberCertificate(decoding: raw),
                certificate.subjectKey == member.publicKey, let name = certificate.subCommunity, let sub = subCommunities[name],
                (try? sub.verify(certificate, membership: membership, now: now)) != nil
            else { continue }
            subs.append(name)
        }
        return .success((AuthenticatedMember(member: member, subCommunities: Array(Set(subs)).sorted()), nonce, timestamp))
    }

    static func parameters(_ text: String) -> [String: String]? {
        var result: [String: String] = [:]
        for part in text.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            result[String(part[..<equals]).trimmingWhitespace().lowercased()] = String(part[part.index(after: equals)...]).trimmingWhitespace()
        }
        return result
    }
}

extension Duration {
    /// Whole milliseconds.
    var overlayMillisecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Nonces seen within the window, each kept until its request's timestamp + window (after which the
/// timestamp check refuses the request anyway).
struct ReplayCache: Sendable {
    struct Key: Hashable, Sendable {
        var signer: [UInt8]
        var nonce: String
    }

    enum Outcome { case inserted, seen, full }

    let capacity: Int
    /// How often expired entries are swept (a sweep is O(n), so it is amortised over this interval).
    let sweepInterval: Duration
    private var expiries: [Key: OverlayInstant] = [:]
    private var nextSweep: OverlayInstant?

    init(capacity: Int, sweepInterval: Duration) {
        self.capacity = capacity
        self.sweepInterval = sweepInterval
    }

    var count: Int { expiries.count }

    mutating func insert(_ key: Key, expiry: OverlayInstant, now: OverlayInstant) -> Outcome {
        if let nextSweep, nextSweep <= now { sweep(now: now) }
        if nextSweep == nil { nextSweep = now.advanced(by: sweepInterval) }
        if let existing = expiries[key], existing > now { return .seen }
        if expiries.count >= capacity {
            sweep(now: now)
            if expiries.count >= capacity { return .full }
        }
        expiries[key] = expiry
        return .inserted
    }

    private mutating func sweep(now: OverlayInstant) {
        expiries = expiries.filter { $0.value > now }
        nextSweep = now.advanced(by: sweepInterval)
    }
}
