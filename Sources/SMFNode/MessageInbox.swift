import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

/// The node's inbox: answers MESSAGE (RFC 3428 §7) itself so that an accepted message is in `sip_messages`
/// before the 200 leaves, then passes it to the `smf messages --follow` watchers.
///
/// It takes the UA core's MESSAGE handler over from the endpoint (``install(on:)``, after the endpoint started),
/// with the same checks (``SIPPagerMessage/validate(_:accepting:maximumBodySize:)`` with the endpoint's types and
/// size limits). A message that cannot be stored is answered 500, so its sender knows it was not delivered.
actor MessageInbox {
    private let database: SMFDatabase
    private let configuration: SIPEndpointConfiguration
    private let logger: Logger
    private var followers: [Int: AsyncStream<StoredMessage>.Continuation] = [:]
    private var nextFollower = 0
    private var isOpen = true

    init(database: SMFDatabase, configuration: SIPEndpointConfiguration, logger: Logger) {
        self.database = database
        self.configuration = configuration
        self.logger = logger
    }

    /// Makes the inbox the MESSAGE handler of `userAgent`.
    func install(on userAgent: SIPUserAgentCore) async {
        await userAgent.register(.message, accepting: configuration.acceptedMessageTypes) { [weak self] incoming in
            await self?.messageArrived(incoming) ?? SIPEventMessages.response(503, to: incoming.request)
        }
    }

    /// Checks, stores, then answers one MESSAGE (RFC 3428 §7: 2xx only once the message is accepted).
    func messageArrived(_ incoming: SIPIncomingRequest, receivedAt: Double = Date().timeIntervalSince1970) async -> SIPResponse {
        let request = incoming.request
        guard isOpen else { return SIPEventMessages.response(503, to: request) }
        let limit = incoming.source.transport == .tcp ? configuration.maximumMessageBodySizeTCP : configuration.maximumMessageBodySizeUDP
        switch SIPPagerMessage.validate(request, accepting: configuration.acceptedMessageTypes, maximumBodySize: limit) {
        case .reject(let response):
            return response
        case .accept(let body, let response):
            let from = request.headers.from?.uri.description ?? ""
            do {
                let stored = try await database.saveMessage(
                    receivedAt: receivedAt, from: from, to: request.headers.to?.uri.description ?? "",
                    contentType: body.contentType.isEmpty ? "text/plain" : body.contentType, body: body.bytes)
                for (_, follower) in followers { follower.yield(stored) }
                return response
            } catch {
                logger.error("cannot store a received MESSAGE; answering 500", metadata: ["sip.from": "\(from)", "smf.error": "\(error)"])
                return SIPEventMessages.response(500, to: request)
            }
        }
    }

    /// Stops taking messages (503 from now on) and ends every follower's stream.
    func close() {
        isOpen = false
        for (_, follower) in followers { follower.finish() }
        followers.removeAll()
    }

    /// Messages stored from now on, until ``stopFollowing(_:)`` or ``close()``.
    func follow() -> (id: Int, messages: AsyncStream<StoredMessage>) {
        let (stream, continuation) = AsyncStream.makeStream(of: StoredMessage.self, bufferingPolicy: .bufferingNewest(1000))
        if !isOpen { continuation.finish() }
        nextFollower += 1
        if isOpen { followers[nextFollower] = continuation }
        return (nextFollower, stream)
    }

    func stopFollowing(_ id: Int) {
        followers.removeValue(forKey: id)?.finish()
    }
}
