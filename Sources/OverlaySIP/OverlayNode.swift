public import Logging
public import Overlay
public import ServiceLifecycle
import NIOCore
import SIPSyntax
public import SIPTransport

/// What an ``OverlayNode`` reports about its place in the ring.
public struct OverlayStatus: Sendable, Hashable {
    /// This node.
    public var me: OverlayPeer
    /// The phase of the node.
    public var phase: ChordNode.Phase
    /// The predecessor, when known.
    public var predecessor: OverlayPeer?
    /// The successor list, nearest first.
    public var successors: [OverlayPeer]
    /// The distinct fingers, in table order.
    public var fingers: [OverlayPeer]
    /// How many records the node holds (as owner or replica).
    public var recordCount: Int
}

/// A Chord node of the overlay driven over SIP: owns a ``ChordNode``, runs its timers on a clock
/// and carries its messages as SIP requests over a ``SIPTransport`` (see ``OverlaySIPCarriage``).
///
/// Wire it with ``attach(to:fallback:)`` on the node's ``SIPUserAgentCore`` so overlay REGISTERs
/// reach it; run it as a swift-service-lifecycle `Service` (leaves the ring on graceful shutdown).
public actor OverlayNode: Service {
    /// This node's key pair and Node-ID.
    public nonisolated let identity: NodeIdentity
    /// This node as peers see it.
    public nonisolated let me: OverlayPeer
    /// The ring this node belongs to when the transport carries several (sent as ``OverlaySIPCarriage/ringHeader``);
    /// nil for the default ring.
    public nonisolated let ring: String?

    private var chord: ChordNode
    private let transport: SIPTransport
    private let clock: ContinuousClock
    private let start: ContinuousClock.Instant
    private let epoch: OverlayInstant
    private let logger: Logger

    private var timerTasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTaskID: UInt64 = 0
    private var nextRequestID: OverlayRequestID = 1
    private var waiters: [OverlayRequestID: CheckedContinuation<Result<OverlayResponse, OverlayError>, Never>] = [:]
    private var phaseWaiters: [(id: UInt64, continuation: CheckedContinuation<ChordNode.Phase, Never>)] = []
    private var knownIDs: [OverlayAddress: NodeID] = [:]
    private var stopped = false
    private var sequence: UInt64 = 0
    private var storeObserver: (@Sendable ([ResourceRecord]) -> Void)?
    private var storeSnapshotDue = false
    private let storeSnapshotDelay: Duration = .milliseconds(200)

    /// Creates an idle node.
    /// - Parameters:
    ///   - identity: the node's key pair; its Node-ID places the node on the ring.
    ///   - address: where peers reach this node's transport (`host:port`, UDP unless `tcp:` is given).
    ///   - transport: the SIP transport that sends the node's requests.
    ///   - configuration: the overlay tunables.
    ///   - clock: runs the timers.
    ///   - epoch: the overlay time (ms since the Unix epoch in production) at the moment of creation;
    ///     record expiries are compared with it plus the clock's elapsed time.
    ///   - logger: receives overlay events.
    ///   - ring: names the ring on a transport that carries several; every request this node sends carries it,
    ///     and ``answer(_:)`` refuses requests of another ring. nil for the default ring.
    public init(
        identity: NodeIdentity,
        address: OverlayAddress,
        transport: SIPTransport,
        configuration: OverlayConfiguration = OverlayConfiguration(),
        clock: ContinuousClock = ContinuousClock(),
        epoch: OverlayInstant,
        logger: Logger,
        ring: String? = nil
    ) {
        self.identity = identity
        self.ring = ring
        me = OverlayPeer(id: identity.nodeID, address: address)
        chord = ChordNode(me: me, configuration: configuration, seed: identity.nodeID.low)
        self.transport = transport
        self.clock = clock
        start = clock.now
        self.epoch = epoch
        self.logger = logger
    }

    /// The overlay tunables the node runs with.
    public var configuration: OverlayConfiguration { chord.configuration }

    /// The overlay time now: the epoch plus the time elapsed on the clock.
    public var now: OverlayInstant { epoch.advanced(by: start.duration(to: clock.now)) }

    /// Registers the overlay's REGISTER handler on `core`; REGISTERs without `Overlay-Message` go to `fallback`
    /// (a registrar), or get 400 when there is none.
    public nonisolated func attach(to core: SIPUserAgentCore, fallback: SIPUserAgentCore.MethodHandler? = nil) async {
        await core.register(OverlaySIPCarriage.method, accepting: [OverlaySIPCarriage.contentType]) { [weak self] incoming in
            if incoming.request.headers[OverlaySIPCarriage.messageHeader] == nil, let fallback {
                return await fallback(incoming)
            }
            guard let self else { return .answering(incoming.request, statusCode: 503) }
            return await self.answer(incoming.request)
        }
    }

    // MARK: - Service

    /// Runs until graceful shutdown, then leaves the ring and stops the timers.
    public func run() async throws {
        try? await gracefulShutdown()
        await leave()
        stop()
    }

    /// Stops the timers and fails waiting calls, without telling peers (a crash, as peers see it).
    public func stop() {
        stopped = true
        for task in timerTasks.values { task.cancel() }
        timerTasks.removeAll()
        let waiting = waiters
        waiters.removeAll()
        for (id, continuation) in waiting {
            _ = id
            continuation.resume(returning: .failure(OverlayError(.timeout, "the node stopped")))
        }
        let phases = phaseWaiters
        phaseWaiters.removeAll()
        for waiter in phases { waiter.continuation.resume(returning: chord.phase) }
    }

    // MARK: - API

    /// Joins the ring through the first bootstrap that admits this node, or starts a new ring when
    /// `bootstrap` is empty.
    /// - Parameter attemptTimeout: how long to wait for each bootstrap.
    /// - Throws: ``OverlaySIPError`` `joinFailed` when no bootstrap admitted the node.
    public func join(bootstrap: [OverlayAddress], attemptTimeout: Duration = .seconds(30)) async throws(OverlaySIPError) {
        guard !stopped else { throw OverlaySIPError(.stopped, "the node was stopped") }
        if bootstrap.isEmpty {
            apply(.createRingRequested)
            return
        }
        for address in bootstrap {
            _ = try OverlaySIPCarriage.destination(of: address)
            apply(.joinRequested(bootstrap: address))
            let phase = await waitForPhaseChange(timeout: attemptTimeout)
            if phase == .joined { return }
            guard !stopped else { throw OverlaySIPError(.stopped, "the node was stopped while joining") }
            if Task.isCancelled {
                abandonJoin()
                throw OverlaySIPError(.stopped, "joining was cancelled")
            }
            abandonJoin()
        }
        throw OverlaySIPError(.joinFailed, "no bootstrap of \(bootstrap.map(\.value)) admitted the node")
    }

    /// Stores a signed record at its owner (a removal is a tombstone record).
    public func put(_ record: ResourceRecord) async throws(OverlaySIPError) {
        let completion = await request { .putRequested(record, requestID: $0) }
        switch completion {
        case .success: return
        case .failure(let error): throw OverlaySIPError(.overlay(error.code), error.detail)
        }
    }

    /// Fetches the live records of the resource `name`, of `kind` when given.
    public func get(_ name: String, kind: ResourceRecord.Kind? = nil) async throws(OverlaySIPError) -> [ResourceRecord] {
        let completion = await request { .getRequested(ResourceID(name: name), kind: kind, requestID: $0) }
        switch completion {
        case .success(.records(let records)): return records
        case .success: return []
        case .failure(let error) where error.code == .notFound: return []
        case .failure(let error): throw OverlaySIPError(.overlay(error.code), error.detail)
        }
    }

    /// Removes this node's record of `kind` under `name` by storing a signed tombstone.
    /// - Parameter sequence: must exceed the stored record's sequence.
    public func remove(_ kind: ResourceRecord.Kind, name: String, sequence: UInt64, expiry: OverlayInstant) async throws(OverlaySIPError) {
        try await put(ResourceRecord.removal(of: kind, name: name, sequence: sequence, expiry: expiry, by: identity))
    }

    /// The contacts registered for the address-of-record `aor` (the user usage).
    public func lookup(aor: String) async throws(OverlaySIPError) -> [String] {
        UserRegistration.contacts(in: try await get(UserRegistration.resourceName(aor: aor)))
    }

    /// The owner of `key` on the ring.
    public func owner(of key: NodeID) async throws(OverlaySIPError) -> OverlayPeer {
        let completion = await request { .lookupRequested(key, requestID: $0) }
        switch completion {
        case .success(.owner(let peer)): return peer
        case .success: throw OverlaySIPError(.overlay(.lookupFailed), "the lookup answered without an owner")
        case .failure(let error): throw OverlaySIPError(.overlay(error.code), error.detail)
        }
    }

    /// Calls `observer` with every record the node holds (owned and replicas, tombstones included) shortly after
    /// the store changed; changes within 200 ms share one call. The driver persists these snapshots.
    public func observeStore(_ observer: @escaping @Sendable ([ResourceRecord]) -> Void) {
        storeObserver = observer
    }

    /// Takes back records kept from an earlier run (each verified; expired or forged ones are dropped) and
    /// returns how many the store now holds of them. Call it once the node has joined, so the records sit
    /// beside those the admitting peer handed over.
    @discardableResult
    public func restore(_ records: [ResourceRecord]) -> Int {
        let moment = now
        chord._preload(records, now: moment)
        let held = Set(chord.store.allRecords.map(\.signature))
        return records.filter { held.contains($0.signature) }.count
    }

    /// Every record the node holds, as owner or replica (tombstones included).
    public func heldRecords() -> [ResourceRecord] {
        chord.store.allRecords
    }

    /// The node's place in the ring.
    public func status() -> OverlayStatus {
        var seen = Set<NodeID>()
        let fingers = chord.fingers.compactMap { $0 }.filter { seen.insert($0.id).inserted }
        return OverlayStatus(
            me: me, phase: chord.phase, predecessor: chord.predecessor, successors: chord.successors,
            fingers: fingers, recordCount: chord.store.count
        )
    }

    /// Tells the node about a peer found outside the ring's messages (local discovery): unless it is already a
    /// neighbour, the node looks up its own successor through it, so separate rings merge
    /// (``OverlayEvent/peerDiscovered(_:)``).
    public func discovered(_ peer: OverlayPeer) {
        learn(peer)
        apply(.peerDiscovered(peer))
    }

    /// Leaves the ring gracefully, handing records to the successor.
    public func leave() async {
        apply(.leaveRequested)
    }

    // MARK: - Driving the state machine

    private func request(_ make: (OverlayRequestID) -> OverlayEvent) async -> Result<OverlayResponse, OverlayError> {
        let id = nextRequestID
        nextRequestID += 1
        guard !stopped else {
            return .failure(OverlayError(.notJoined, "the node was stopped"))
        }
        return await withCheckedContinuation { continuation in
            waiters[id] = continuation
            apply(make(id))
        }
    }

    /// Drops a join attempt that keeps retrying (ChordNode never gives up a join) by starting over
    /// with a fresh state machine; the old attempt's timers are cancelled and its late answers find
    /// no pending request.
    private func abandonJoin() {
        for task in timerTasks.values { task.cancel() }
        timerTasks.removeAll()
        chord = ChordNode(me: me, configuration: chord.configuration, seed: identity.nodeID.low &+ nextRequestID)
        let waiting = waiters
        waiters.removeAll()
        for continuation in waiting.values {
            continuation.resume(returning: .failure(OverlayError(.notJoined, "the join attempt was abandoned")))
        }
    }

    private func waitForPhaseChange(timeout: Duration) async -> ChordNode.Phase {
        let id = nextTaskID
        nextTaskID += 1
        let timeoutTask = Task { [clock] in
            try? await clock.sleep(for: timeout)
            self.resumePhaseWaiter(id)
        }
        let phase = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(returning: chord.phase)
                } else {
                    phaseWaiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.resumePhaseWaiter(id) }
        }
        timeoutTask.cancel()
        return phase
    }

    private func resumePhaseWaiter(_ id: UInt64) {
        guard let index = phaseWaiters.firstIndex(where: { $0.id == id }) else { return }
        phaseWaiters.remove(at: index).continuation.resume(returning: chord.phase)
    }

    /// Feeds one event to the ChordNode and carries out the actions; returns the answers meant for `replyTo`.
    @discardableResult
    private func apply(_ event: OverlayEvent, replyTo: OverlayAddress? = nil) -> OverlayEnvelope? {
        guard !stopped else { return nil }
        var actions: [OverlayAction] = []
        chord.handle(event, now: now, into: &actions)
        var reply: OverlayEnvelope?
        for action in actions {
            switch action {
            case .send(let address, let envelope):
                if reply == nil, address == replyTo, OverlaySIPCarriage.isAnswer(envelope.message) {
                    reply = envelope
                } else {
                    send(envelope, to: address)
                }
            case .scheduleTimer(let timer, let delay):
                schedule(timer, after: delay)
            case .complete(let completion):
                waiters.removeValue(forKey: completion.requestID)?.resume(returning: completion.result)
            case .storeChanged:
                scheduleStoreSnapshot()
            case .phaseChanged(let phase):
                logger.debug("overlay phase changed", metadata: ["overlay.phase": "\(phase)", "overlay.node": "\(me)"])
                if phase != .joining {
                    let phases = phaseWaiters
                    phaseWaiters.removeAll()
                    for waiter in phases { waiter.continuation.resume(returning: phase) }
                }
            }
        }
        return reply
    }

    private func schedule(_ timer: OverlayTimer, after delay: Duration) {
        let id = nextTaskID
        nextTaskID += 1
        timerTasks[id] = Task { [clock] in
            do { try await clock.sleep(for: delay) } catch { return }
            self.timerFired(timer, taskID: id)
        }
    }

    private func scheduleStoreSnapshot() {
        guard storeObserver != nil, !storeSnapshotDue else { return }
        storeSnapshotDue = true
        Task { [clock, storeSnapshotDelay] in
            try? await clock.sleep(for: storeSnapshotDelay)
            self.takeStoreSnapshot()
        }
    }

    private func takeStoreSnapshot() {
        storeSnapshotDue = false
        storeObserver?(chord.store.allRecords)
    }

    private func timerFired(_ timer: OverlayTimer, taskID: UInt64) {
        guard timerTasks.removeValue(forKey: taskID) != nil else { return }
        apply(.timerFired(timer))
    }

    private func send(_ envelope: OverlayEnvelope, to address: OverlayAddress) {
        let destination: SIPDestination
        do {
            destination = try OverlaySIPCarriage.destination(of: address)
        } catch {
            logger.warning("overlay peer address unusable", metadata: ["overlay.peer": "\(address)", "error": "\(error)"])
            apply(.peerUnreachable(address))
            return
        }
        sequence &+= 1
        let request = OverlaySIPCarriage.request(
            carrying: envelope, to: destination, recipient: knownIDs[address],
            callID: "\(me.id.shortDescription)-\(sequence)-\(UInt32.random(in: 0...UInt32.max))",
            fromTag: String(UInt32.random(in: 0...UInt32.max), radix: 16),
            ring: ring
        )
        let transport = self.transport
        Task {
            let response: SIPResponse
            do throws(SIPTransportError) {
                response = try await transport.send(request, to: destination)
            } catch {
                self.failed(address, error)
                return
            }
            self.received(response, from: address)
        }
    }

    private func received(_ response: SIPResponse, from address: OverlayAddress) {
        guard response.body.readableBytes > 0 else {
            if response.statusCode >= 300 {
                logger.warning("overlay request refused", metadata: ["overlay.peer": "\(address)", "sip.status": "\(response.statusCode) \(response.reasonPhrase)"])
            }
            return
        }
        do {
            let envelope = try OverlaySIPCarriage.decodeBody(response.body)
            learn(envelope.sender)
            apply(.messageReceived(envelope))
        } catch {
            logger.warning("overlay answer undecodable", metadata: ["overlay.peer": "\(address)", "error": "\(error)"])
        }
    }

    private func failed(_ address: OverlayAddress, _ error: SIPTransportError) {
        guard !stopped, error != .cancelled else { return }
        logger.debug("overlay peer unreachable", metadata: ["overlay.peer": "\(address)", "error": "\(error)"])
        apply(.peerUnreachable(address))
    }

    /// Remembers a peer's Node-ID for the Request-URI of later requests to its address (bounded memory).
    private func learn(_ peer: OverlayPeer) {
        if knownIDs.count >= Self.knownIDLimit, knownIDs[peer.address] == nil { knownIDs.removeAll(keepingCapacity: true) }
        knownIDs[peer.address] = peer.id
    }

    private static let knownIDLimit = 4096

    /// Answers one overlay request received over SIP (``attach(to:fallback:)`` calls it; a driver that carries
    /// several rings on one transport calls it for the requests of this node's ring). A request naming another
    /// ring in ``OverlaySIPCarriage/ringHeader`` gets `404 Unknown Overlay Ring`.
    public func answer(_ request: SIPRequest) -> SIPResponse {
        guard OverlaySIPCarriage.ring(of: request) == ring else {
            return .answering(request, statusCode: 404, reasonPhrase: "Unknown Overlay Ring")
        }
        let envelope: OverlayEnvelope
        do {
            envelope = try OverlaySIPCarriage.envelope(in: request)
        } catch {
            logger.info("malformed overlay request", metadata: ["error": "\(error)"])
            return OverlaySIPCarriage.rejection(of: request, error)
        }
        guard !stopped else { return .answering(request, statusCode: 503) }
        learn(envelope.sender)
        let reply = apply(.messageReceived(envelope), replyTo: envelope.sender.address)
        return OverlaySIPCarriage.response(to: request, answer: reply)
    }
}
