import Community
import Foundation
import Logging
import NIOCore
import NIOPosix
import Overlay
import OverlaySIP
import SIPSyntax
import SIPTransport
import SMFNode
import Storage
import Testing

extension OverlayProcess {
    /// Runs `smf ARGUMENTS --data <this node>` and fails the test (with the output) unless it exits 0.
    @discardableResult
    func succeed(_ arguments: [String], timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await smf(arguments, timeout: timeout)
        #expect(result.status == 0, "smf \(arguments.joined(separator: " ")) failed: \(result.output)", sourceLocation: sourceLocation)
        return result.output
    }

    /// The communities the node belongs to (`smf community list --json`).
    func communities() async throws -> [CommunitySummary] {
        let output = try await succeed(["community", "list", "--json"])
        return try JSONDecoder().decode([CommunitySummary].self, from: Data(output.utf8))
    }

    /// The members the node knows (`smf community members --json`).
    func members(_ community: String? = nil) async throws -> [CommunityMemberRow] {
        let output = try await succeed(["community", "members", "--json"] + (community.map { ["--community", $0] } ?? []))
        return try JSONDecoder().decode([CommunityMemberRow].self, from: Data(output.utf8))
    }

    /// The members of a sub-community (`smf sub members NAME --json`).
    func subMembers(_ name: String) async throws -> [SubCommunityMemberRow] {
        let output = try await succeed(["sub", "members", name, "--json"])
        return try JSONDecoder().decode([SubCommunityMemberRow].self, from: Data(output.utf8))
    }

    /// `smf overlay status --community NAME --json`, or nil when the node does not answer it.
    func ringStatus(_ community: String) async throws -> OverlayStatusReport? {
        let result = try await smf(["overlay", "status", "--community", community, "--json"])
        guard result.status == 0 else { return nil }
        return try? JSONDecoder().decode(OverlayStatusReport.self, from: Data(result.output.utf8))
    }

    /// This node's Node-ID (40 hex digits), from its default ring.
    func nodeID() async throws -> String {
        try #require(try await overlayStatus()).node.id
    }

    /// A fresh invitation token (the last line of `smf community invite`).
    func invitation(_ extra: [String] = []) async throws -> String {
        let output = try await succeed(["community", "invite"] + extra)
        return try #require(output.split(separator: "\n").last.map(String.init))
    }
}

/// Whether every node's view of `community`'s ring forms one ring over exactly `nodes`.
func communityRingFormed(_ nodes: [OverlayProcess], community: String) async throws -> Bool {
    var statuses: [OverlayStatusReport] = []
    for node in nodes {
        guard let status = try await node.ringStatus(community) else { return false }
        statuses.append(status)
    }
    return formsOneRing(statuses, ids: statuses.map(\.node.id))
}

/// A node with its own keys that is no member: it founds its own community of the same name and speaks raw SIP
/// over TCP, signing with its own credential (or with a credential it copied from someone else).
struct RogueNode {
    let identity = NodeIdentity.generate()
    let founding: CommunityFounding

    init(communityName: String) throws {
        founding = try Community.found(name: communityName, founder: identity, now: unixNow())
    }

    /// A SUBSCRIBE for `package` at `uri`, signed with `credential` (default: its own) by its own key, or unsigned.
    func subscribe(to uri: String, package: String, signedWith credential: MembershipCredential?, callID: String) throws -> SIPRequest {
        try subscribeRequest(to: uri, package: package, from: "rogue", expires: 600, callID: callID, signedBy: identity, with: credential)
    }

    /// An overlay `join` REGISTER for the ring `ring` (a community ID in hex), signed with `credential` by its own key.
    func ringJoin(ring: String, port: Int, signedWith credential: MembershipCredential?) -> SIPRequest {
        let envelope = OverlayEnvelope(sender: OverlayPeer(id: identity.nodeID, address: "127.0.0.1:5999"), message: .joinRequest(id: 1))
        var request = OverlaySIPCarriage.request(
            carrying: envelope, to: SIPDestination(transport: .tcp, host: "127.0.0.1", port: port), recipient: nil, callID: "rogue-join-\(port)",
            fromTag: "rj", ring: ring)
        if let credential { RequestSigner(identity: identity, credential: credential).sign(&request, now: unixNow()) }
        return request
    }
}

/// A SUBSCRIBE for `package` at `uri` from `sip:USER@127.0.0.1:5999` (a contact nobody listens on), signed by
/// `identity` with `credential`, or unsigned without one.
func subscribeRequest(
    to uri: String, package: String, from user: String, expires: Int, callID: String, signedBy identity: NodeIdentity, with credential: MembershipCredential?
) throws -> SIPRequest {
    let target = try #require(SIPURI(uri))
    var headers = SIPHeaders()
    headers.to = SIPNameAddress(uri: target)
    headers.from = SIPNameAddress(uri: SIPURI(user: user, host: "127.0.0.1", port: 5999), parameters: [("tag", "r\(callID)")])
    headers.callID = callID
    headers.cseq = SIPCSeq(sequence: 1, method: .subscribe)
    headers.add(name: "Event", value: package)
    headers.add(name: "Expires", value: "\(expires)")
    headers.add(name: "Contact", value: "<sip:\(user)@127.0.0.1:5999;transport=tcp>")
    var request = SIPRequest(method: .subscribe, uri: target, headers: headers)
    if let credential { RequestSigner(identity: identity, credential: credential).sign(&request, now: unixNow()) }
    return request
}

extension OverlayProcess {
    /// A fetch (SUBSCRIBE with Expires: 0, RFC 6665 §4.4.3) of `package` at `uri`, signed as this node signs its own
    /// requests (its identity key, and its credential in its only community, both read from its data directory),
    /// sent over a new TCP connection to `port`: the status line of the answer. A request takes milliseconds, so a
    /// test can time when a node starts refusing this member without an `smf` process start in every attempt.
    func signedFetch(of uri: String, package: String, port: Int) async throws -> String {
        let identity = try NodeIdentity.loadOrCreate(in: dataDirectory)
        let database = try SMFDatabase(directory: dataDirectory.path, logger: Logger(label: "smf.test"))
        let credential = try #require(try SQLiteMembershipStore(database: database).communities().first?.credential, "no credential in \(dataDirectory.path)")
        let request = try subscribeRequest(
            to: uri, package: package, from: "member", expires: 0, callID: UUID().uuidString, signedBy: identity, with: credential)
        return try await exchange(wireText(request), port: port).status
    }
}

/// Unix time in ms, as the nodes read it.
func unixNow() -> OverlayInstant { OverlayInstant(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }

/// The text of a request as sent on a TCP connection from port 5999 (a Via is added; `via` replaces any there).
func wireText(_ request: SIPRequest, via: String = "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-rogue-\(UInt32.random(in: 0...UInt32.max))") -> String {
    var request = request
    request.headers.remove("Via")
    request.headers.prepend(name: "Via", value: via)
    if !request.headers.contains("Max-Forwards") { request.headers.add(name: "Max-Forwards", value: "70") }
    var buffer = ByteBuffer()
    SIPMessage.request(request).write(into: &buffer)
    return String(buffer: buffer)
}

/// Sends raw SIP text over a new TCP connection to `port` and returns the status line and body of the first final response.
func exchange(_ text: String, port: Int) async throws -> (status: String, body: String) {
    let peer = try await TCPPeer(connectingTo: port)
    defer { peer.close() }
    try await peer.send(text)
    while let head = await peer.receive() {
        let status = head.split(separator: "\r\n").first.map(String.init) ?? ""
        let length = headerValue("Content-Length", in: head).flatMap { Int($0) } ?? 0
        var body = ""
        if length > 0 { body = await peer.receive(bytes: length) ?? "" }
        if status.hasPrefix("SIP/2.0 1") { continue }
        return (status, body)
    }
    throw ProcessTestError(description: "no response from 127.0.0.1:\(port)")
}

/// The complete SIP messages in a captured TCP byte stream (Content-Length framed, RFC 3261 §18.3).
func sipMessages(in stream: String) -> [String] {
    var messages: [String] = []
    var rest = Substring(stream)
    while let end = rest.range(of: "\r\n\r\n") {
        let head = rest[..<end.upperBound]
        let length = headerValue("Content-Length", in: String(head)).flatMap { Int($0) } ?? 0
        let bodyStart = end.upperBound
        let bytes = Array(rest[bodyStart...].utf8)
        guard bytes.count >= length else { break }
        let body = String(decoding: bytes[0..<length], as: UTF8.self)
        messages.append(String(head) + body)
        rest = Substring(String(decoding: bytes[length...], as: UTF8.self))
    }
    return messages
}

/// A TCP relay on 127.0.0.1: every connection made to it is forwarded to `target`, and everything the target sends
/// back is kept (what a node on the path sees: here, the NOTIFYs a notifier sends back over the subscriber's
/// connection, RFC 5626 §5).
final class TCPRelay: @unchecked Sendable {
    private let server: any Channel
    private let lock = NSLock()
    private var captured = Data()

    var port: Int { server.localAddress?.port ?? 0 }

    /// Everything the target sent back so far, as text.
    var fromTarget: String { lock.withLock { String(decoding: captured, as: UTF8.self) } }

    init(target: Int) async throws {
        let relay = Box()
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                let inbound = RelayHandler(tap: nil)
                let connect = ClientBootstrap(group: child.eventLoop)
                    .channelInitializer { upstream in
                        upstream.eventLoop.makeCompletedFuture {
                            try upstream.pipeline.syncOperations.addHandler(RelayHandler(partner: child, tap: relay.tap))
                        }
                    }
                    .connect(host: "127.0.0.1", port: target)
                connect.whenSuccess { upstream in inbound.attach(upstream) }
                connect.whenFailure { _ in child.close(promise: nil) }
                return child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(inbound) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        relay.tap = { [weak self] buffer in
            guard let self else { return }
            self.lock.withLock { self.captured.append(contentsOf: buffer.readableBytesView) }
        }
    }

    func close() { server.close(promise: nil) }

    private final class Box: @unchecked Sendable {
        var tap: (@Sendable (ByteBuffer) -> Void)?
    }
}

/// Copies what one side of the relay reads to the other side (all on one event loop).
private final class RelayHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private var partner: (any Channel)?
    private var pending: [ByteBuffer] = []
    private let tap: (@Sendable (ByteBuffer) -> Void)?

    init(partner: (any Channel)? = nil, tap: (@Sendable (ByteBuffer) -> Void)?) {
        self.partner = partner
        self.tap = tap
    }

    func attach(_ channel: any Channel) {
        partner = channel
        for buffer in pending { channel.write(buffer, promise: nil) }
        pending.removeAll()
        channel.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        tap?(buffer)
        if let partner { partner.writeAndFlush(buffer, promise: nil) } else { pending.append(buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close(promise: nil)
    }
}
