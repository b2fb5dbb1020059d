import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import Storage

/// The node's inbox: the endpoint's MESSAGE hook (``SIPEndpointConfiguration/onMessage``), so that a MESSAGE
/// the endpoint accepted (RFC 3428 §7, type and size checked there) is in `sip_messages` before the 200 leaves;
/// then it passes it to the `smf messages --follow` watchers. A message that cannot be stored is refused with
/// 500, so its sender knows it was not delivered; after ``close()`` every message is refused with 503.
actor MessageInbox {
    private let database: SMFDatabase
    private let logger: Logger
    private var followers: [Int: AsyncStream<StoredMessage>.Continuation] = [:]
    private var nextFollower = 0
    private var isOpen = true

    init(database: SMFDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// The hook to put into the endpoint's configuration.
    nonisolated var hook: @Sendable (SIPReceivedMessage) async -> SIPMessageDecision {
        { [weak self] message in await self?.messageArrived(message) ?? .refuse(statusCode: 503) }
    }

    /// Stores one accepted MESSAGE, then lets the endpoint answer it (RFC 3428 §7: 2xx only once it is kept).
    func messageArrived(_ message: SIPReceivedMessage, receivedAt: Double = Date().timeIntervalSince1970) async -> SIPMessageDecision {
        guard isOpen else { return .refuse(statusCode: 503) }
        let from = message.from?.description ?? ""
        do {
            let stored = try await database.saveMessage(
                receivedAt: receivedAt, from: from, to: message.to?.description ?? "",
                contentType: message.body.contentType.isEmpty ? "text/plain" : message.body.contentType, body: message.body.bytes)
            for (_, follower) in followers { follower.yield(stored) }
            return .accept
        } catch {
            logger.error("cannot store a received MESSAGE; answering 500", metadata: ["sip.from": "\(from)", "smf.error": "\(error)"])
            return .refuse(statusCode: 500)
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
