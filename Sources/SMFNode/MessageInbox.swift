import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import Storage

/// The node's inbox: every MESSAGE the endpoint accepted (RFC 3428 §7) goes into `sip_messages`, then to the
/// `smf messages --follow` watchers.
///
/// The endpoint answers 200 as it hands the message over (it has no hook to wait for a write), so a crash in
/// the moment between the two loses a message its sender saw delivered.
actor MessageInbox {
    private let database: SMFDatabase
    private let logger: Logger
    private var followers: [Int: AsyncStream<StoredMessage>.Continuation] = [:]
    private var nextFollower = 0

    init(database: SMFDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Stores each message of `messages` until the stream ends (the endpoint shut down) or the task is cancelled.
    func consume(_ messages: AsyncStream<SIPReceivedMessage>) async {
        for await message in messages {
            await store(message, receivedAt: Date().timeIntervalSince1970)
        }
        for (_, follower) in followers { follower.finish() }
        followers.removeAll()
    }

    /// Saves one message and passes it to the followers.
    func store(_ message: SIPReceivedMessage, receivedAt: Double) async {
        do {
            let stored = try await database.saveMessage(
                receivedAt: receivedAt, from: message.from?.description ?? "", to: message.to?.description ?? "",
                contentType: message.body.contentType.isEmpty ? "text/plain" : message.body.contentType, body: message.body.bytes)
            for (_, follower) in followers { follower.yield(stored) }
        } catch {
            logger.error(
                "cannot store a received MESSAGE", metadata: ["sip.from": "\(message.from?.description ?? "-")", "smf.error": "\(error)"])
        }
    }

    /// Messages stored from now on, until `stopFollowing(_:)` or the inbox closes.
    func follow() -> (id: Int, messages: AsyncStream<StoredMessage>) {
        let (stream, continuation) = AsyncStream.makeStream(of: StoredMessage.self, bufferingPolicy: .bufferingNewest(1000))
        nextFollower += 1
        followers[nextFollower] = continuation
        return (nextFollower, stream)
    }

    func stopFollowing(_ id: Int) {
        followers.removeValue(forKey: id)?.finish()
    }
}
