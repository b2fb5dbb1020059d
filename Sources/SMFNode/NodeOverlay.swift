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
    private let registrationLifetime: Duration
    private let logger: Logger
    private var lastSequence: UInt64 = 0
    private let snapshots: AsyncStream<[ResourceRecord]>
    private let snapshotSink: AsyncStream<[ResourceRecord]>.Continuation

    init(
        node: OverlayNode, database: SMFDatabase, bootstrap: [OverlayAddress], addressOfRecord: String, contact: String,
        registrationLifetime: Duration, logger: Logger
    ) {
        self.node = node
        self.database = database
        self.bootstrap = bootstrap
        self.addressOfRecord = addressOfRecord
        self.contact = contact
        self.registrationLifetime = registrationLifetime
        self.logger = logger
        (snapshots, snapshotSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Where peers reach a node listening on `addresses`: its first UDP listener as `host:port` (TCP on the same
    /// port carries requests too large for UDP).
    static func overlayAddress(of addresses: [SIPListenAddress]) -> OverlayAddress? {
        if let udp = addresses.first(where: { $0.transport == .udp }) { return OverlayAddress("\(udp.hostForURI):\(udp.port)") }
        guard let tcp = addresses.first else { return nil }
        return OverlayAddress("tcp:\(tcp.hostForURI):\(tcp.port)")
    }

    /// A sequence number above every earlier one of this node, also across restarts (it starts at the overlay
    /// time in ms, which runs on from the Unix epoch).
    func nextSequence() async -> UInt64 {
        let now = UInt64(clamping: await node.now.milliseconds)
        lastSequence = max(lastSequence + 1, now)
        return lastSequence
    }

    /// Joins, restores, registers and renews until cancelled (graceful shutdown); saves store snapshots meanwhile.
    func maintain() async {
        let sink = snapshotSink
        await node.observeStore { sink.yield($0) }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.saveSnapshots() }
            group.addTask { await self.joinAndRegister() }
        }
    }

    /// Leaves the ring (handing records over), stops the timers and saves the store one last time.
    func close() async {
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
        await restore()
        while !Task.isCancelled {
            await register()
            try? await Task.sleep(for: registrationLifetime / 2)
        }
    }

    /// Tries the bootstrap peers until one admits the node; returns false when cancelled first.
    private func join() async -> Bool {
        let attemptTimeout = max(.seconds(5), (await node.configuration.requestTimeout) * 10)
        while !Task.isCancelled {
            do {
                try await node.join(bootstrap: bootstrap, attemptTimeout: attemptTimeout)
                let status = await node.status()
                logger.info(
                    bootstrap.isEmpty ? "started a new overlay ring" : "joined the overlay ring",
                    metadata: ["overlay.node": "\(status.me.id)", "overlay.successor": "\(status.successors.first?.description ?? "none")"])
                return true
            } catch {
                logger.warning("cannot join the overlay ring yet", metadata: ["smf.error": "\(error)"])
                try? await Task.sleep(for: attemptTimeout)
            }
        }
        return false
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

    /// Sets the overlay's periods for a given stabilisation period (tests run fast rings with 200–500 ms):
    /// finger refresh as often, predecessor checks half as often, a retry after one period.
    public mutating func setOverlayStabilizeInterval(_ interval: Duration) {
        overlay.stabilizeInterval = interval
        overlay.fixFingersInterval = interval
        overlay.checkPredecessorInterval = interval * 2
        overlay.retryDelay = interval
    }
}
