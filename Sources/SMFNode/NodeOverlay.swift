import Foundation
import Logging
import Overlay
import OverlaySIP
import ServiceLifecycle
import SIPSyntax
import SIPTransport
import Storage

/// The node's place in the community overlay: its ``OverlayNode`` on the node's SIP transport, the records kept in
/// the database, and the node's own user registration (docs/overlay.md "In the running node").
///
/// ``maintain()`` joins the ring (or starts one), takes back the records kept from the last run, stores the
/// node's registration `sip:USER@HOST:PORT → contact` (trying again soon while the overlay cannot store it) and
/// renews it every half lifetime; store snapshots are saved to `overlay_records` as they change.
actor NodeOverlay {
    let node: OverlayNode
    let addressOfRecord: String
    let contact: String
    private let database: SMFDatabase
    private let bootstrap: [OverlayAddress]
    private let discovery: NodeDiscovery?
    private let registrationLifetime: Duration
    private let logger: Logger
    private var lastSequence: UInt64 = 0
    private let snapshots: AsyncStream<[ResourceRecord]>
    private let snapshotSink: AsyncStream<[ResourceRecord]>.Continuation

    init(
        node: OverlayNode, database: SMFDatabase, bootstrap: [OverlayAddress], discovery: NodeDiscovery?, addressOfRecord: String,
        contact: String, registrationLifetime: Duration, logger: Logger
    ) {
        self.node = node
        self.database = database
        self.bootstrap = bootstrap
        self.discovery = discovery
        self.addressOfRecord = addressOfRecord
        self.contact = contact
        self.registrationLifetime = registrationLifetime
        self.logger = logger
        (snapshots, snapshotSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Where peers reach a node listening on `addresses`: its first UDP listener as `host:port` (TCP on the same
    /// port carries requests too large for UDP).
    static func overlayAddress(of addresses: [SIPListenAddress]) -> OverlayAddress? {
        guard let address = addresses.first(where: { $0.transport == .udp }) ?? addresses.first else { return nil }
        return overlayAddress(of: SIPDestination(transport: address.transport, host: address.host, port: address.port))
    }

    /// The overlay address of a destination, as nodes name themselves: `HOST:PORT` (UDP) or `tcp:HOST:PORT`.
    static func overlayAddress(of destination: SIPDestination) -> OverlayAddress {
        let host = destination.host.contains(":") ? "[\(destination.host)]" : destination.host
        return OverlayAddress(destination.transport == .tcp ? "tcp:\(host):\(destination.port)" : "\(host):\(destination.port)")
    }

    /// A sequence number above every earlier one of this node, also across restarts (it starts at the overlay
    /// time in ms, which runs on from the Unix epoch).
    func nextSequence() async -> UInt64 {
        let now = UInt64(clamping: await node.now.milliseconds)
        lastSequence = max(lastSequence + 1, now)
        return lastSequence
    }

    /// Joins, restores, registers and renews until cancelled (graceful shutdown); saves store snapshots meanwhile.
    /// With local discovery, also answers the LAN's queries and, while alone in its ring, looks for peers to merge
    /// with.
    func maintain() async {
        let sink = snapshotSink
        await node.observeStore { sink.yield($0) }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.saveSnapshots() }
            group.addTask { await self.joinAndRegister() }
            if let discovery = self.discovery {
                group.addTask { await discovery.runResponder() }
            }
        }
    }

    /// Stops answering discovery queries, leaves the ring (handing records over), stops the timers and saves the
    /// store one last time.
    func close() async {
        await discovery?.withdraw()
        await node.leave()
        await node.stop()
        snapshotSink.finish()
        await save(await node.heldRecords())
    }

    private func saveSnapshots() async {
        for await snapshot in snapshots {
            await save(snapshot)
        }
    }

    private func save(_ records: [ResourceRecord]) async {
        do {
            try await database.replaceOverlayRecords(with: records)
        } catch {
            logger.error("cannot save the overlay records", metadata: ["smf.error": "\(error)"])
        }
    }

    private func joinAndRegister() async {
        guard await join() else { return }
        await discovery?.announce(node.me)
        await restore()
        await withDiscardingTaskGroup { group in
            if let discovery {
                group.addTask { await self.mergeWhileAlone(discovery) }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.register()
                    try? await Task.sleep(for: self.registrationLifetime / 2)
                }
            }
        }
    }

    /// Joins through the bootstrap peers, trying them until one admits the node; without any, through the first
    /// peers local discovery finds, else starts a new ring. Returns false when cancelled first.
    private func join() async -> Bool {
        let attemptTimeout = max(.seconds(5), (await node.configuration.requestTimeout) * 10)
        if bootstrap.isEmpty, let discovery {
            let found = await discovery.peers(excluding: node.me.id).map(\.address)
            if !found.isEmpty {
                do {
                    try await node.join(bootstrap: found, attemptTimeout: attemptTimeout)
                    await logJoined("joined the overlay ring through a peer found on the LAN")
                    return true
                } catch {
                    guard !Task.isCancelled else { return false }
                    logger.warning("no peer found on the LAN admitted the node; starting a new ring", metadata: ["smf.error": "\(error)"])
                }
            }
        }
        while !Task.isCancelled {
            do {
                try await node.join(bootstrap: bootstrap, attemptTimeout: attemptTimeout)
                await logJoined(bootstrap.isEmpty ? "started a new overlay ring" : "joined the overlay ring")
                return true
            } catch {
                logger.warning("cannot join the overlay ring yet", metadata: ["smf.error": "\(error)"])
                try? await Task.sleep(for: attemptTimeout)
            }
        }
        return false
    }

    private func logJoined(_ message: Logger.Message) async {
        let status = await node.status()
        logger.info(message, metadata: ["overlay.node": "\(status.me.id)", "overlay.successor": "\(status.successors.first?.description ?? "none")"])
    }

    /// While the node is alone in its ring (it started one, or every peer left), queries the LAN every couple of
    /// stabilisation periods and tells the ring about the peers found (``OverlayNode/discovered(_:)``): nodes that
    /// started together, each finding nobody yet, thus end in one ring. Whenever the node has company again (found
    /// by it or by the others), it stores the records it holds again, so that each reaches its owner in the merged
    /// ring.
    private func mergeWhileAlone(_ discovery: NodeDiscovery) async {
        let period = max(await node.configuration.stabilizeInterval * 2, .seconds(1))
        var wasAlone = await isAlone()
        while !Task.isCancelled {
            try? await Task.sleep(for: period * Double.random(in: 0.8...1.2))
            let alone = await isAlone()
            if wasAlone, !alone {
                await redistribute()
            }
            wasAlone = alone
            guard alone, !Task.isCancelled else { continue }
            let found = await discovery.peers(excluding: node.me.id).compactMap { peer in
                peer.id.map { OverlayPeer(id: $0, address: peer.address) }
            }
            guard !found.isEmpty else { continue }
            logger.info("found overlay peers on the LAN while alone in the ring", metadata: ["overlay.peers": "\(found)"])
            for peer in found { await node.discovered(peer) }
        }
    }

    /// Whether the node is in a ring with no other node in it.
    private func isAlone() async -> Bool {
        let status = await node.status()
        return status.phase == .joined && status.successors.allSatisfy { $0.id == status.me.id } && status.predecessor.map { $0.id == status.me.id } ?? true
    }

    /// Stores every live record the node holds again, so each reaches its owner (after a merge of rings).
    private func redistribute() async {
        let now = await node.now
        let held = await node.heldRecords().filter { $0.expiry > now }
        var stored = 0
        for record in held {
            do {
                try await node.put(record)
                stored += 1
            } catch where error.code == .overlay(.staleSequence) {
                stored += 1  // the owner already holds a newer version
            } catch {
                logger.warning("cannot store a record again after joining peers", metadata: ["overlay.record": "\(record)", "smf.error": "\(error)"])
            }
        }
        logger.info("stored the records held while alone again", metadata: ["overlay.records": "\(stored)/\(held.count)"])
    }

    /// Takes back the records kept from the last run and stores this node's own ones again, so their owners
    /// (possibly others now) hold them.
    private func restore() async {
        let now = await node.now
        let kept: [ResourceRecord]
        do {
            kept = try await database.overlayRecords(expiringAfter: now)
        } catch {
            logger.error("cannot read the kept overlay records", metadata: ["smf.error": "\(error)"])
            return
        }
        guard !kept.isEmpty else { return }
        let restored = await node.restore(kept)
        let own = kept.filter { $0.owner == node.me.id }
        for record in own {
            lastSequence = max(lastSequence, record.sequence)
            do {
                try await node.put(record)
            } catch {
                logger.warning("cannot store a kept record again", metadata: ["overlay.record": "\(record)", "smf.error": "\(error)"])
            }
        }
        logger.info("restored overlay records", metadata: ["overlay.kept": "\(kept.count)", "overlay.restored": "\(restored)", "overlay.own": "\(own.count)"])
    }

    /// Stores the node's user registration (UserRegistration usage): its AoR → its contact. A store that fails (right
    /// after joining a ring still forming, a lookup can run out of peers; an owner may not answer or may refuse) is
    /// tried again after one stabilisation period, then twice as long each time up to ten (``RepublishSchedule``),
    /// until stored or cancelled.
    private func register() async {
        var schedule = RepublishSchedule(refresh: registrationLifetime / 2, stabilizeInterval: await node.configuration.stabilizeInterval)
        while !Task.isCancelled {
            let sequence = await nextSequence()
            let expiry = await node.now.advanced(by: registrationLifetime)
            let record = UserRegistration(aor: addressOfRecord, contacts: [contact]).record(sequence: sequence, expiry: expiry, by: node.identity)
            do {
                try await node.put(record)
                logger.debug("registered in the overlay", metadata: ["overlay.aor": "\(addressOfRecord)"])
                return
            } catch {
                let delay = schedule.delay(afterStoring: false)
                logger.warning(
                    "cannot register in the overlay; trying again soon",
                    metadata: ["overlay.aor": "\(addressOfRecord)", "overlay.retry": "\(delay)", "smf.error": "\(error)"])
                try? await Task.sleep(for: delay)
            }
        }
    }
}

/// Runs the node's overlay between the transport (opened before, closed after) and the endpoint: joins and
/// registers until graceful shutdown, then leaves the ring while the transport still carries the goodbyes.
struct OverlayService: Service {
    let slot: NodeRuntimeSlot

    func run() async throws {
        guard let overlay = slot.current?.overlay else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await overlay.maintain() }
        // The join failed or was cancelled early: still wait for shutdown before leaving.
        try? await gracefulShutdown()
        await overlay.close()
    }
}

extension NodeConfiguration {
    /// Checks a `--bootstrap` value: `host:port`, `[v6]:port`, `tcp:host:port` or a SIP URI such as
    /// `sip:127.0.0.1:5070` (port 5060 when absent).
    /// - Throws: ``SMFNodeError`` saying what is wrong.
    public static func bootstrapAddress(_ text: String) throws(SMFNodeError) -> OverlayAddress {
        let address = OverlayAddress(text)
        do {
            _ = try OverlaySIPCarriage.destination(of: address)
        } catch {
            throw SMFNodeError(problem: "bootstrap '\(text)' is neither host:port nor a SIP URI: \(error.detail)")
        }
        return address
    }

    /// Checks an `--overlay-address` value (`HOST:PORT`, `tcp:HOST:PORT` or a SIP URI) and returns it as nodes name
    /// themselves (`HOST:PORT` or `tcp:HOST:PORT`). A wildcard host (0.0.0.0, ::) or port 0 is refused: peers could
    /// not reach it.
    /// - Throws: ``SMFNodeError`` saying what is wrong.
    public static func advertisedOverlayAddress(_ text: String) throws(SMFNodeError) -> OverlayAddress {
        let destination: SIPDestination
        do {
            destination = try OverlaySIPCarriage.destination(of: OverlayAddress(text))
        } catch {
            throw SMFNodeError(problem: "overlay address '\(text)' is neither HOST:PORT nor a SIP URI: \(error.detail)")
        }
        guard destination.port != 0, !["0.0.0.0", "::", "[::]"].contains(destination.host) else {
            throw SMFNodeError(problem: "overlay address '\(text)' is not an address peers can reach (a wildcard host or port 0)")
        }
        return NodeOverlay.overlayAddress(of: destination)
    }

    /// Sets the overlay's periods for a given stabilisation period (tests run fast rings with 200–500 ms):
    /// finger refresh as often, predecessor checks half as often, a retry after one period.
    public mutating func setOverlayStabilizeInterval(_ interval: Duration) {
        overlay.stabilizeInterval = interval
        overlay.fixFingersInterval = interval
        overlay.checkPredecessorInterval = interval * 2
        overlay.retryDelay = interval
    }
}
