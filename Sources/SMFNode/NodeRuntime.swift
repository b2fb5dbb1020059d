import Foundation
import Logging
import ServicePlatform
import SIPEndpoint
import SIPSyntax
import Storage

/// What a node has once ``SMFNode/start()`` succeeded: its database, its SIP endpoint (bound to the address of
/// record of its first listener) and the parts built on them.
final class NodeRuntime: Sendable {
    let database: SMFDatabase
    let endpoint: SIPEndpoint
    let presence: NodePresence
    let inbox: MessageInbox
    let registration: RegistrationClient?
    let overlay: NodeOverlay
    /// The Service Delivery Platform runtime (docs/services.md).
    let services: ServiceRuntime
    /// The node as a building-surveillance supporter's own node (docs/surveillance.md).
    let supporter: NodeSupporter

    init(
        database: SMFDatabase, endpoint: SIPEndpoint, presence: NodePresence, inbox: MessageInbox, registration: RegistrationClient?,
        overlay: NodeOverlay, services: ServiceRuntime, supporter: NodeSupporter
    ) {
        self.supporter = supporter
        self.database = database
        self.endpoint = endpoint
        self.presence = presence
        self.inbox = inbox
        self.registration = registration
        self.overlay = overlay
        self.services = services
    }

    /// The node's address of record, `sip:USER@HOST:PORT`.
    var addressOfRecord: SIPURI { endpoint.configuration.localURI }
}

/// Holds the ``NodeRuntime`` once the node started; control commands and services look it up when they run.
final class NodeRuntimeSlot: @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var runtime: NodeRuntime?
    private let lock = NSLock()

    init() {}

    var current: NodeRuntime? { lock.withLock { runtime } }

    func set(_ runtime: NodeRuntime) { lock.withLock { self.runtime = runtime } }
}
