import Foundation
public import Logging
import SIPCore
public import SIPEvents
public import SIPSyntax
public import SIPTransport

/// Runs the event framework of a node over its SIP transport: the notifier with its event
/// packages (RFC 6665), the subscriptions we hold at others, the Event State Compositor and our
/// publishers (RFC 3903), and pager-mode MESSAGE (RFC 3428), with the notifier's and ESC's state
/// written through to a ``SIPEndpointStore``.
///
/// An actor: every event (a request from the UA core, a response, a timer, an API call) runs the
/// pure SIPEvents machines inside the actor, writes what changed to the store, and only then
/// carries out the machines' actions (answer, send, schedule). Sending awaits the transport in
/// child tasks, whose outcome comes back as a new event, so the actor never holds state across
/// a suspension. The store write is synchronous for the same reason: a failed write is undone by
/// putting back the machines, which are values.
///
/// Wiring: create a ``SIPUserAgentCore``, a ``SIPTransport`` with that core as its handler, then
/// the endpoint with both; ``start()`` restores saved state and registers the SUBSCRIBE, NOTIFY,
/// PUBLISH and MESSAGE handlers. Call ``shutdown()`` before closing the transport.
public actor SIPEndpoint {
    /// The settings given at creation.
    public nonisolated let configuration: SIPEndpointConfiguration
    /// MESSAGE requests we accepted (RFC 3428 §7); finishes at ``shutdown()``.
    public nonisolated let messages: AsyncStream<SIPReceivedMessage>

    private let transport: SIPTransport
    private let userAgent: SIPUserAgentCore
    private let store: any SIPEndpointStore
    private let logger: Logger
    private let messageContinuation: AsyncStream<SIPReceivedMessage>.Continuation

    var notifier: SIPNotifier
    var compositor: SIPEventStateCompositor
    private var packages: [String: any SIPEventPackage] = [:]
    private var generator = SystemRandomNumberGenerator()
    private var isRunning = false
    private var wasStarted = false
    private var nextHandleID = 0

    // MARK: Timers

    /// A timer of one of the machines. The notifier's (one or two per subscription) are a key
    /// reference each; the rarer kinds are boxed so that they do not widen every entry.
    enum TimerID: Hashable, Sendable {
        case notifier(SIPNotifierTimer)
        indirect case publication(SIPPublicationTimer)
        indirect case subscriber(Int, SIPSubscriberTimer)
        case publisher(Int, SIPPublisherTimer)
    }

    /// Every armed timer's deadline; one task sleeps until the earliest (a sleeping task per
    /// subscription would cost ~2 KB each).
    private var timers = SIPEndpointTimerQueue<TimerID>()
    /// The task sleeping until `deadline`, the earliest deadline when it was started.
    private var timerDriver: (deadline: SIPEventInstant, task: Task<Void, Never>)?
    private var isFiringTimers = false

    // MARK: Notifier side

    /// Where the SUBSCRIBE of a dialog came from when it came over TCP: NOTIFYs go back over that
    /// connection first (RFC 5626 §5, RFC 3261 §18.2.2 spirit).
    private var flows: [SIPDialogID: SIPDestination] = [:]
    /// The last NOTIFY send of each dialog; the next one waits for it so NOTIFYs arrive in CSeq order.
    private var notifyChains: [SIPDialogID: (number: UInt64, task: Task<Void, Never>)] = [:]
    private var nextChainNumber: UInt64 = 0
    /// Resource states changed by the running event, written with it (`nil` value: removed).
    private var pendingResourceStates: [String: SIPStoredResourceState?] = [:]
    /// The local CSeq each notifier dialog's stored records carry: a NOTIFY up to it needs no write, because the
    /// dialog restores at that CSeq and a restarted node continues above it (``notifyCSeqReserve``).
    private var storedNotifyCSeqs: [SIPDialogID: UInt32] = [:]
    /// What the running event's write stores in ``storedNotifyCSeqs`` once it succeeds; `nil`: the dialog is gone.
    private var pendingNotifyCSeqs: [SIPDialogID: UInt32?] = [:]
    /// Callers of ``notify(_:body:)`` waiting for their NOTIFY's outcome, by send chain number.
    private var notifyWaiters: [UInt64: CheckedContinuation<SIPNotifyOutcome, Never>] = [:]
    /// The waiter the next ``sendNotify(_:key:)`` takes (set just around ``execute(_:)`` in ``notify(_:body:)``).
    private var nextNotifyWaiter: CheckedContinuation<SIPNotifyOutcome, Never>?
    /// The owner of each package told of its subscriptions (``observeSubscriptions(of:)``).
    private var subscriptionObservers: [String: AsyncStream<SIPNotifierSubscriptionChange>.Continuation] = [:]
    /// Checks new SUBSCRIBEs of a package before the notifier (``setSubscribeAdmission(for:_:)``).
    private var admissions: [String: SIPSubscribeAdmission] = [:]

    // MARK: Subscriber and publisher side

    private struct SubscriberEntry {
        var machine: SIPSubscriberSubscription
        let continuation: AsyncStream<SIPSubscriptionUpdate>.Continuation
        /// A fetch (Expires: 0) ends at its first NOTIFY and never refreshes or retries.
        var isFetch = false
        /// Chooses the answer to each NOTIFY; its notifications then do not go to the stream.
        var handler: SIPNotificationHandler?
    }

    private struct PublisherEntry {
        var machine: SIPPublisher
        let continuation: AsyncStream<SIPPublicationUpdate>.Continuation
    }

    private var subscribers: [Int: SubscriberEntry] = [:]
    private var publishers: [Int: PublisherEntry] = [:]

    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    /// - Parameters:
    ///   - configuration: Our AoR, Contact, clock and limits.
    ///   - transport: Sends our requests; its handler must be `userAgent`.
    ///   - userAgent: The UA core the endpoint registers its method handlers with at ``start()``.
    ///   - store: Where notifier subscriptions, publications and resource states are kept.
    ///   - packages: Event packages served from the start (more with ``registerPackage(_:)``).
    ///   - logger: Receives endpoint events at `info` and below.
    public init(
        configuration: SIPEndpointConfiguration, transport: SIPTransport, userAgent: SIPUserAgentCore,
        store: any SIPEndpointStore = SIPInMemoryEndpointStore(), packages: [any SIPEventPackage] = [], logger: Logger
    ) {
        self.configuration = configuration
        self.transport = transport
        self.userAgent = userAgent
        self.store = store
        self.logger = logger
        for package in packages { self.packages[package.name] = package }
        self.notifier = SIPNotifier(packages: packages, localContact: configuration.contact)
        self.compositor = SIPEventStateCompositor(packages: packages)
        (messages, messageContinuation) = AsyncStream.makeStream(of: SIPReceivedMessage.self)
    }

    // MARK: - Lifecycle

    /// Restores the saved notifier subscriptions, publications and resource states (dropping what
    /// expired meanwhile; NOTIFY CSeq continues upward) and registers the SUBSCRIBE, NOTIFY,
    /// PUBLISH and MESSAGE handlers with the UA core.
    /// - Throws: ``SIPEndpointError/alreadyStarted``, or ``SIPEndpointError/storeFailed(_:)`` when the
    ///   store cannot be read.
    public func start() async throws(SIPEndpointError) {
        guard !wasStarted else { throw .alreadyStarted }
        wasStarted = true
        try restore()
        isRunning = true
        await registerHandlers()
        logger.info(
            "SIP endpoint started",
            metadata: [
                "sip.endpoint.aor": "\(configuration.localURI)", "sip.endpoint.subscriptions": "\(notifier.count)",
                "sip.endpoint.publications": "\(compositor.count)",
            ])
    }

    /// Stops all timers and sends, finishes every stream and answers later requests with 503.
    /// Saved state stays in the store for the next start. Call it before closing the transport,
    /// so that failures caused by the closing are not mistaken for dead subscribers.
    public func shutdown() {
        guard isRunning else { return }
        isRunning = false
        timerDriver?.task.cancel()
        timerDriver = nil
        timers.removeAll()
        for (_, chain) in notifyChains { chain.task.cancel() }
        notifyChains.removeAll()
        for (_, waiter) in notifyWaiters { waiter.resume(returning: .failed(reason: "the endpoint shut down")) }
        notifyWaiters.removeAll()
        for (_, observer) in subscriptionObservers { observer.finish() }
        subscriptionObservers.removeAll()
        flows.removeAll()
        for (_, entry) in subscribers { entry.continuation.finish() }
        subscribers.removeAll()
        for (_, entry) in publishers { entry.continuation.finish() }
        publishers.removeAll()
        messageContinuation.finish()
        logger.info("SIP endpoint stopped", metadata: ["sip.endpoint.aor": "\(configuration.localURI)"])
    }

    /// Adds or replaces an event package: SUBSCRIBEs and PUBLISHes for it are accepted from now on.
    public func registerPackage(_ package: any SIPEventPackage) async {
        packages[package.name] = package
        notifier.register(package)
        // The ESC takes its packages at creation: rebuild it around the same publications.
        let snapshot = compositor.snapshot
        compositor = SIPEventStateCompositor(packages: Array(packages.values))
        let actions = compositor.restore(snapshot, now: now)
        for case .scheduleTimer(let timer, let delay) in actions { schedule(.publication(timer), after: delay) }
        if isRunning { await registerHandlers() }
    }

    /// The names of the registered packages (for `Allow-Events`).
    public var packageNames: [String] { packages.keys.sorted() }

    /// The registered package `name`, if any (e.g. to register a package that extends it).
    public func package(named name: String) -> (any SIPEventPackage)? { packages[name] }

    private var now: SIPEventInstant { configuration.clock.now() }

    private func registerHandlers() async {
        let types = Array(Set(packages.values.flatMap(\.acceptedContentTypes).filter { $0 != "*/*" })).sorted()
        await userAgent.register(.subscribe) { [weak self] incoming in
            await self?.subscribeArrived(incoming) ?? Self.unavailable(incoming.request)
        }
        await userAgent.register(.notify, accepting: types) { [weak self] incoming in
            await self?.notifyArrived(incoming) ?? Self.unavailable(incoming.request)
        }
        await userAgent.register(.publish, accepting: types) { [weak self] incoming in
            await self?.publishArrived(incoming) ?? Self.unavailable(incoming.request)
        }
        await userAgent.register(.message, accepting: configuration.acceptedMessageTypes) { [weak self] incoming in
            await self?.messageArrived(incoming) ?? Self.unavailable(incoming.request)
        }
    }

    nonisolated static func unavailable(_ request: SIPRequest) -> SIPResponse {
        SIPEventMessages.response(503, to: request)
    }

    // MARK: - Timers

    /// Starts (or restarts) `timer`; a replaced or cancelled timer never fires.
    private func schedule(_ timer: TimerID, after delay: Duration) {
        timers.schedule(timer, at: now + max(.zero, delay))
        armTimerDriver()
    }

    /// Stops `timer`. The driver may wake for nothing; it then sleeps until the next deadline.
    private func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// Makes sure one task sleeps until the earliest deadline (restarting it for an earlier one).
    private func armTimerDriver() {
        guard !isFiringTimers else { return }  // timersDue re-arms when it is done
        guard let earliest = timers.earliestDeadline() else {
            timerDriver?.task.cancel()
            timerDriver = nil
            return
        }
        if let driver = timerDriver, driver.deadline <= earliest { return }
        timerDriver?.task.cancel()
        let delay = max(.zero, earliest - now)
        let sleep = configuration.clock.sleep
        let task = Task { [weak self] in
            do { try await sleep(delay) } catch { return }
            await self?.timersDue(deadline: earliest)
        }
        timerDriver = (earliest, task)
    }

    /// The driver slept until `deadline`: fires every timer due by then (or by now, if later).
    private func timersDue(deadline: SIPEventInstant) {
        guard isRunning, timerDriver?.deadline == deadline else { return }
        timerDriver = nil
        let limit = max(deadline, now)
        isFiringTimers = true
        while isRunning, let timer = timers.popDue(notAfter: limit) { timerFired(timer) }
        isFiringTimers = false
        if isRunning { armTimerDriver() }
    }

    private func timerFired(_ timer: TimerID) {
        let now = self.now
        switch timer {
        case .notifier(let timer):
            execute(commitAnyway { notifier.timerFired(timer, now: now).map(Step.notifier) })
        case .publication(let timer):
            execute(commitAnyway { compositorSteps(compositor.timerFired(timer, now: now), now: now) })
        case .subscriber(let id, let timer):
            guard var entry = subscribers[id] else { return }
            let actions = entry.machine.timerFired(timer, now: now, using: &generator)
            subscribers[id] = entry
            _ = executeSubscriber(id, actions)
        case .publisher(let id, let timer):
            guard var entry = publishers[id] else { return }
            let actions = entry.machine.timerFired(timer, now: now)
            publishers[id] = entry
            executePublisher(id, actions)
        }
    }

    // MARK: - Committing state

    /// One thing the notifier or the ESC asks us to do.
    enum Step {
        case notifier(SIPNotifierAction)
        case compositor(SIPCompositorAction)
    }

    /// Runs `change` against the notifier and ESC, then writes what it changed to the store. On a
    /// store failure the machines are put back and the error thrown: nothing is acknowledged or
    /// sent that is not committed.
    ///
    /// Costs O(what changed): the notifier records the entries an event touches (with their
    /// earlier values, for the undo), so neither the diff nor the rollback visits the others.
    private func commit<T>(_ change: () -> T) throws(SIPEndpointError) -> T {
        let savedCompositor = compositor
        notifier.beginChanges()
        pendingResourceStates = [:]
        let result = change()
        let changes = storeChanges(compositorBefore: savedCompositor, includeUpdates: true)
        pendingResourceStates = [:]
        guard !changes.isEmpty else {
            notifier.endChanges()
            return result
        }
        do {
            try store.apply(changes)
            notifier.endChanges()
            keepPendingNotifyCSeqs()
        } catch {
            notifier.rollBackChanges()
            compositor = savedCompositor
            logger.info("endpoint store write failed; change undone", metadata: ["sip.endpoint.error": "\(error)"])
            throw .storeFailed(error)
        }
        return result
    }

    /// Like ``commit(_:)`` for events that cannot be refused (timers, responses): a store failure is
    /// logged and the in-memory state kept. With `includeUpdates` false only creations and
    /// removals are written (a NOTIFY's 2xx changes nothing worth an fsync).
    private func commitAnyway(includeUpdates: Bool = true, _ change: () -> [Step]) -> [Step] {
        let savedCompositor = compositor
        notifier.beginChanges()
        pendingResourceStates = [:]
        let steps = change()
        let changes = storeChanges(compositorBefore: savedCompositor, includeUpdates: includeUpdates)
        notifier.endChanges()
        pendingResourceStates = [:]
        if !changes.isEmpty {
            do {
                try store.apply(changes)
                keepPendingNotifyCSeqs()
            } catch {
                logger.info("endpoint store write failed", metadata: ["sip.endpoint.error": "\(error)"])
            }
        }
        return steps
    }

    /// How many NOTIFY CSeqs of a dialog one write reserves when nothing but its CSeq changed: a stream of NOTIFYs
    /// on a subscription (``notify(_:body:)``, a service wire's values) writes its record once per this many, not
    /// once per NOTIFY. After a restart the dialog goes on above the reservation: CSeqs in a dialog only have to
    /// grow (RFC 3261 §12.2.2 refuses only lower ones), so the gap costs nothing.
    static let notifyCSeqReserve: UInt32 = 100

    private func keepPendingNotifyCSeqs() {
        for (id, cseq) in pendingNotifyCSeqs { storedNotifyCSeqs[id] = cseq }
        pendingNotifyCSeqs = [:]
    }

    /// What the last event changed, as store records: subscriptions (with their dialog) and
    /// publications added, changed or gone, and resource states set.
    /// Only the notifier entries recorded in ``SIPNotifier/changes`` are compared.
    private func storeChanges(compositorBefore: SIPEventStateCompositor, includeUpdates: Bool) -> SIPEndpointStoreChanges {
        var changes = SIPEndpointStoreChanges()
        let touched = notifier.changes
        pendingNotifyCSeqs = [:]
        var touchedDialogs = Set<SIPDialogID>()
        if includeUpdates {
            for (id, before) in touched.dialogs where notifier.dialog(id) != before { touchedDialogs.insert(id) }
        }
        // Dialogs where only NOTIFY bookkeeping moved (the local CSeq, when the last NOTIFY went): within their
        // reservation nothing is written, beyond it the record is written with a new reservation.
        let (covered, reserving) = notifyBookkeeping(touchedDialogs, touched: touched)
        touchedDialogs.subtract(covered)
        var saved = Set<SIPSubscriptionKey>()
        for (key, before) in touched.subscriptions {
            guard let subscription = notifier.subscriptions[key] else {
                if before != nil { changes.deleted.append(.init(kind: .notifierSubscription, id: key.description)) }
                if notifier.dialog(key.dialogID) == nil { pendingNotifyCSeqs[key.dialogID] = .some(nil) }
                continue
            }
            guard !covered.contains(key.dialogID) else { continue }
            let changed = before == nil || (includeUpdates && (before != subscription || touchedDialogs.contains(key.dialogID)))
            guard changed, let dialog = storedDialog(key.dialogID, reserving: reserving), let record = record(subscription, dialog) else { continue }
            changes.saved.append(record)
            saved.insert(key)
        }
        // Every record carries its dialog: a changed dialog rewrites its other subscriptions too.
        for id in touchedDialogs {
            guard let dialog = storedDialog(id, reserving: reserving) else { continue }
            for key in notifier.subscriptionKeys(inDialog: id) where !saved.contains(key) {
                guard let subscription = notifier.subscriptions[key], let record = record(subscription, dialog) else { continue }
                changes.saved.append(record)
            }
        }
        let publicationsBefore = compositorBefore.publications
        for (tag, publication) in compositor.publications where publicationsBefore[tag] != publication {
            if let record = record(publication) { changes.saved.append(record) }
        }
        for tag in publicationsBefore.keys where compositor.publications[tag] == nil {
            changes.deleted.append(.init(kind: .publication, id: tag))
        }
        for (id, state) in pendingResourceStates.sorted(by: { $0.key < $1.key }) {
            if let state, let data = try? encoder.encode(state) {
                changes.saved.append(
                    SIPEndpointStoreRecord(
                        key: .init(kind: .resourceState, id: id), package: state.package, resource: state.resource, expiresAt: nil,
                        data: Array(data)))
            } else {
                changes.deleted.append(.init(kind: .resourceState, id: id))
            }
        }
        return changes
    }

    /// Of the changed dialogs, those whose event changed nothing but NOTIFY bookkeeping (their local CSeq, and in
    /// their subscriptions when the last NOTIFY went and which awaits its answer): `covered` when the CSeq is still
    /// within what the stored records carry, `reserving` when it went past.
    private func notifyBookkeeping(
        _ dialogs: Set<SIPDialogID>, touched: SIPNotifier.Changes
    ) -> (covered: Set<SIPDialogID>, reserving: Set<SIPDialogID>) {
        var covered = Set<SIPDialogID>()
        var reserving = Set<SIPDialogID>()
        for id in dialogs {
            guard let before = touched.dialogs[id] ?? nil, let after = notifier.dialog(id), let sequence = after.localSequence else { continue }
            var aligned = before
            aligned.localSequence = after.localSequence
            guard aligned == after else { continue }
            let bookkeepingOnly = notifier.subscriptionKeys(inDialog: id).allSatisfy { key in
                guard let entry = touched.subscriptions[key] else { return true }
                guard let earlier = entry, let now = notifier.subscriptions[key] else { return false }
                return now.differsAtMostInNotifyBookkeeping(from: earlier)
            }
            guard bookkeepingOnly else { continue }
            if let stored = storedNotifyCSeqs[id], sequence <= stored {
                covered.insert(id)
            } else {
                reserving.insert(id)
            }
        }
        return (covered, reserving)
    }

    /// The dialog as its records store it: with a fresh CSeq reservation when `reserving` names it, else as it is.
    /// Notes the stored CSeq for ``keepPendingNotifyCSeqs()``.
    private func storedDialog(_ id: SIPDialogID, reserving: Set<SIPDialogID>) -> SIPDialog? {
        guard var dialog = notifier.dialog(id) else { return nil }
        if reserving.contains(id), let sequence = dialog.localSequence {
            let (reserved, overflow) = sequence.addingReportingOverflow(Self.notifyCSeqReserve - 1)
            dialog.localSequence = overflow ? sequence : reserved
        }
        pendingNotifyCSeqs[id] = .some(dialog.localSequence ?? 0)
        return dialog
    }

    private func record(_ subscription: SIPNotifierSubscription, _ dialog: SIPDialog) -> SIPEndpointStoreRecord? {
        guard let data = try? encoder.encode(SIPStoredSubscription(subscription: subscription, dialog: dialog)) else { return nil }
        return SIPEndpointStoreRecord(
            key: .init(kind: .notifierSubscription, id: subscription.key.description), package: subscription.key.event.package,
            resource: subscription.resource, peer: subscription.subscriber, expiresAt: subscription.expiresAt.seconds,
            notifyCSeq: dialog.localSequence, data: Array(data))
    }

    private func record(_ publication: SIPPublication) -> SIPEndpointStoreRecord? {
        guard let data = try? encoder.encode(publication) else { return nil }
        return SIPEndpointStoreRecord(
            key: .init(kind: .publication, id: publication.entityTag), package: publication.event, resource: publication.resource,
            expiresAt: publication.expiresAt.seconds, data: Array(data))
    }

    /// Tells the notifier about a resource's new state and remembers it for the store.
    private func changeResourceState(package: String, resource: String, state: SIPEventBody?, now: SIPEventInstant) -> [SIPNotifierAction] {
        let id = "\(package) \(resource)"
        pendingResourceStates[id] = .some(state.map { SIPStoredResourceState(package: package, resource: resource, state: $0) })
        return notifier.resourceStateChanged(event: package, resource: resource, state: state, now: now)
    }

    /// Feeds the ESC's resource state changes to the notifier (RFC 3903 §4: composed state is what
    /// watchers see).
    private func compositorSteps(_ actions: [SIPCompositorAction], now: SIPEventInstant) -> [Step] {
        actions.flatMap { action -> [Step] in
            if case .resourceStateChanged(let event, let resource, let state) = action {
                return changeResourceState(package: event, resource: resource, state: state, now: now).map(Step.notifier)
            }
            return [.compositor(action)]
        }
    }

    // MARK: - Restore

    private func restore() throws(SIPEndpointError) {
        let records: [SIPEndpointStoreRecord]
        do {
            records = try store.loadRecords()
        } catch {
            throw .storeFailed(error)
        }
        let now = self.now
        var bridge = NotifierSnapshotBridge()
        var publications: [SIPPublication] = []
        var dropped: [SIPEndpointStoreRecord.Key] = []
        for record in records {
            let data = Data(record.data)
            switch record.key.kind {
            case .notifierSubscription:
                // Expired subscriptions are dropped, not notified: their subscribers are long gone.
                guard let stored = try? decoder.decode(SIPStoredSubscription.self, from: data), stored.subscription.expiresAt > now else {
                    dropped.append(record.key)
                    continue
                }
                bridge.dialogs.append(stored.dialog)
                bridge.subscriptions.append(stored.subscription)
            case .publication:
                guard let publication = try? decoder.decode(SIPPublication.self, from: data) else {
                    dropped.append(record.key)
                    continue
                }
                if publication.expiresAt <= now { dropped.append(record.key) }
                publications.append(publication)
            case .resourceState:
                guard let state = try? decoder.decode(SIPStoredResourceState.self, from: data) else {
                    dropped.append(record.key)
                    continue
                }
                bridge.resourceStates.append(.init(event: state.package, resource: state.resource, state: state.state))
            }
        }
        var steps: [Step] = []
        do {
            let snapshot = try decoder.decode(SIPNotifier.Snapshot.self, from: encoder.encode(bridge))
            steps += notifier.restore(snapshot, now: now).map(Step.notifier)
            storedNotifyCSeqs = [:]
            for key in notifier.subscriptions.keys {
                if let sequence = notifier.dialog(key.dialogID)?.localSequence { storedNotifyCSeqs[key.dialogID] = sequence }
            }
            let compositorSnapshot = try decoder.decode(
                SIPEventStateCompositor.Snapshot.self,
                from: encoder.encode(CompositorSnapshotBridge(publications: publications, sequence: publications.map(\.sequence).max() ?? 0)))
            pendingResourceStates = [:]
            steps += compositorSteps(compositor.restore(compositorSnapshot, now: now), now: now)
        } catch {
            throw .storeFailed(error)
        }
        var changes = SIPEndpointStoreChanges(deleted: dropped)
        for (id, state) in pendingResourceStates {
            if let state, let data = try? encoder.encode(state) {
                changes.saved.append(.init(key: .init(kind: .resourceState, id: id), package: state.package, resource: state.resource, expiresAt: nil, data: Array(data)))
            } else {
                changes.deleted.append(.init(kind: .resourceState, id: id))
            }
        }
        pendingResourceStates = [:]
        if !changes.isEmpty {
            do { try store.apply(changes) } catch { throw .storeFailed(error) }
        }
        if !dropped.isEmpty {
            logger.info("dropped expired endpoint state on restore", metadata: ["sip.endpoint.dropped": "\(dropped.count)"])
        }
        execute(steps)
    }

    // MARK: - Executing actions

    /// Carries out notifier and ESC steps; returns the response to send, if any.
    @discardableResult
    private func execute(_ steps: [Step]) -> SIPResponse? {
        var response: SIPResponse?
        for step in steps {
            switch step {
            case .notifier(.sendResponse(let answer)), .compositor(.sendResponse(let answer)):
                response = answer
            case .notifier(.sendNotify(let request, let key)):
                sendNotify(request, key: key)
            case .notifier(.scheduleTimer(let timer, let delay)):
                schedule(.notifier(timer), after: delay)
            case .notifier(.cancelTimer(let timer)):
                cancel(.notifier(timer))
            case .notifier(.subscriptionCreated(let key, let status)):
                logger.debug("subscription created", metadata: ["sip.subscription": "\(key)", "sip.subscription.status": "\(status.rawValue)"])
                tellOwner(.created(status), key)
            case .notifier(.subscriptionRemoved(let key, let removal)):
                logger.debug("subscription removed", metadata: ["sip.subscription": "\(key)", "sip.subscription.removal": "\(removal)"])
                tellOwner(.removed(removal), key)
                if !flows.isEmpty, !notifier.hasDialog(key.dialogID) { flows[key.dialogID] = nil }
            case .compositor(.scheduleTimer(let timer, let delay)):
                schedule(.publication(timer), after: delay)
            case .compositor(.cancelTimer(let timer)):
                cancel(.publication(timer))
            case .compositor(.resourceStateChanged):
                break  // turned into notifier steps by compositorSteps
            }
        }
        return response
    }

    /// Sends a NOTIFY after the previous one of its dialog completed: over the subscriber's TCP
    /// connection when its SUBSCRIBE came that way, else (or when that connection is gone) to the
    /// dialog's remote target (RFC 6665 §4.2.2, RFC 3261 §12.2.1.1).
    private func sendNotify(_ request: SIPRequest, key: SIPSubscriptionKey) {
        let dialogID = key.dialogID
        let previous = notifyChains[dialogID]?.task
        nextChainNumber += 1
        let number = nextChainNumber
        if let waiter = nextNotifyWaiter {
            notifyWaiters[number] = waiter
            nextNotifyWaiter = nil
        }
        let flow = flows[dialogID]
        let target = Self.destination(for: request)
        let transport = self.transport
        // Started at once on this actor (`Task.immediate`, SE-0472): the NOTIFY is handed to the transport before the
        // event that produced it goes on — with a commit of its own, say — not after whatever the thread has queued.
        let task = Task.immediate { [self] in
            await previous?.value
            let outcome = await Self.deliver(request, flow: flow, target: target, transport: transport)
            notifyCompleted(request, outcome: outcome, dialogID: dialogID, chain: number)
        }
        notifyChains[dialogID] = (number, task)
    }

    nonisolated(nonsending) private static func deliver(
        _ request: SIPRequest, flow: SIPDestination?, target: SIPDestination?, transport: SIPTransport
    ) async -> Result<SIPResponse, SIPTransportError> {
        if let flow {
            do {
                return .success(try await transport.send(request, to: flow))
            } catch {
                guard error.isTransportFailure, target != nil, !Task.isCancelled else { return .failure(error) }
            }
        }
        guard let target else { return .failure(.transportFailure) }
        do {
            return .success(try await transport.send(request, to: target))
        } catch {
            return .failure(error)
        }
    }

    private func notifyCompleted(_ request: SIPRequest, outcome: Result<SIPResponse, SIPTransportError>, dialogID: SIPDialogID, chain: UInt64) {
        if notifyChains[dialogID]?.number == chain { notifyChains[dialogID] = nil }
        if let waiter = notifyWaiters.removeValue(forKey: chain) { waiter.resume(returning: Self.notifyOutcome(outcome)) }
        guard isRunning else { return }
        let now = self.now
        switch outcome {
        case .success(let response):
            execute(commitAnyway(includeUpdates: false) { notifier.notifyResponseReceived(response, now: now).map(Step.notifier) })
        case .failure(let error):
            guard error != .cancelled else { return }
            logger.info("NOTIFY failed", metadata: ["sip.call-id": "\(dialogID.callID)", "sip.error": "\(error)"])
            execute(commitAnyway { notifier.notifyFailed(request, now: now).map(Step.notifier) })
        }
    }

    // MARK: - Destinations

    /// Where a request goes: its first Route, else its Request-URI (RFC 3261 §8.1.2, §12.2.1.1).
    nonisolated static func destination(for request: SIPRequest) -> SIPDestination? {
        if let route = request.headers.values("Route").first, let address = SIPNameAddress(route) {
            return destination(for: address.uri)
        }
        return destination(for: request.uri)
    }

    /// Transport, host and port of a SIP URI (RFC 3263 reduced to literal hosts and `transport=`).
    public nonisolated static func destination(for uri: SIPURI) -> SIPDestination? {
        guard uri.isSIP, uri.opaque == nil, !uri.host.isEmpty else { return nil }
        let transport = uri.transport.flatMap(SIPTransportProtocol.init(token:)) ?? .udp
        return SIPDestination(transport: transport, host: uri.maddr ?? uri.hostWithoutBrackets, port: uri.port ?? 5060)
    }

    func nextID() -> Int {
        nextHandleID += 1
        return nextHandleID
    }

    // MARK: - Inbound requests

    private func subscribeArrived(_ incoming: SIPIncomingRequest) async -> SIPResponse {
        let request = incoming.request
        guard isRunning else { return Self.unavailable(request) }
        let inDialog = SIPDialogID.ofReceivedRequest(request)
        if inDialog == nil, let package = request.headers.event?.package, let admission = admissions[package] {
            if let refusal = await admission(request) {
                return refusal.response(to: request, toTag: SIPEventMessages.token(using: &generator))
            }
            guard isRunning else { return Self.unavailable(request) }
        }
        let refreshedKey = inDialog.flatMap { id in request.headers.event.map { SIPSubscriptionKey(dialogID: id, event: $0) } }
        let wasLive = refreshedKey.map { notifier.subscriptions[$0] != nil } ?? false
        let now = self.now
        let steps: [Step]
        do {
            steps = try commit { notifier.subscribeReceived(request, now: now, using: &generator).map(Step.notifier) }
        } catch {
            return SIPEventMessages.response(500, to: request)
        }
        if incoming.source.transport == .tcp {
            for case .notifier(.subscriptionCreated(let key, _)) in steps { flows[key.dialogID] = incoming.source }
            if let id = SIPDialogID.ofReceivedRequest(request), notifier.hasDialog(id) { flows[id] = incoming.source }
        }
        let response = execute(steps) ?? SIPEventMessages.response(500, to: request)
        if wasLive, let key = refreshedKey, notifier.subscriptions[key] != nil, response.statusCode < 300 { tellOwner(.refreshed, key) }
        return response
    }

    private func publishArrived(_ incoming: SIPIncomingRequest) -> SIPResponse {
        let request = incoming.request
        guard isRunning else { return Self.unavailable(request) }
        let now = self.now
        let steps: [Step]
        do {
            steps = try commit { compositorSteps(compositor.publishReceived(request, now: now, using: &generator), now: now) }
        } catch {
            return SIPEventMessages.response(500, to: request)
        }
        return execute(steps) ?? SIPEventMessages.response(500, to: request)
    }

    /// Checks a MESSAGE, asks ``SIPEndpointConfiguration/onMessage`` (which may refuse it), and only
    /// then answers 200 and passes it on (RFC 3428 §7). The hook runs outside the actor's state: it
    /// may suspend (e.g. for a database write) while other events are served.
    private func messageArrived(_ incoming: SIPIncomingRequest) async -> SIPResponse {
        let request = incoming.request
        guard isRunning else { return Self.unavailable(request) }
        let limit = incoming.source.transport == .tcp ? configuration.maximumMessageBodySizeTCP : configuration.maximumMessageBodySizeUDP
        switch SIPPagerMessage.validate(request, accepting: configuration.acceptedMessageTypes, maximumBodySize: limit) {
        case .reject(let response):
            return response
        case .accept(let body, let response):
            let message = SIPReceivedMessage(from: request.headers.from?.uri, to: request.headers.to?.uri, body: body, source: incoming.source)
            if let hook = configuration.onMessage, case .refuse(let statusCode) = await hook(message) {
                // A refusal must be a failure response; anything else would claim delivery.
                return SIPEventMessages.response((300...699).contains(statusCode) ? statusCode : 500, to: request)
            }
            messageContinuation.yield(message)  // a no-op once shut down: the hook already took it
            return response
        }
    }

    // MARK: - Notifier API

    /// Sets the state of `resource` (our AoR when `nil`) in `package`; every watcher is notified
    /// (RFC 6665 §4.2.2), subject to the package's rate limit. `nil` body: the resource has no
    /// state. The state is committed to the store before any NOTIFY leaves.
    /// - Throws: ``SIPEndpointError/notRunning``, ``SIPEndpointError/unknownPackage(_:)``,
    ///   ``SIPEndpointError/storeFailed(_:)``.
    public func setState(package: String, resource: SIPURI? = nil, body: SIPEventBody?) throws(SIPEndpointError) {
        guard isRunning else { throw .notRunning }
        guard let served = packages[package] else { throw .unknownPackage(package) }
        let key = served.resourceKey(for: resource ?? configuration.localURI)
        let now = self.now
        execute(try commit { changeResourceState(package: package, resource: key, state: body, now: now).map(Step.notifier) })
    }

    /// Decides a subscription its package left pending (RFC 6665 §4.2.1.3).
    public func authorize(_ key: SIPSubscriptionKey, decision: SIPSubscriptionAuthorization) throws(SIPEndpointError) {
        guard isRunning else { throw .notRunning }
        let now = self.now
        let wasPending = notifier.subscriptions[key]?.status == .pending
        execute(try commit { notifier.authorize(key, decision: decision, now: now).map(Step.notifier) })
        if wasPending, notifier.subscriptions[key]?.status == .active { tellOwner(.activated, key) }
    }

    /// Sends `body` on the one subscription `key` — a NOTIFY `active` after the earlier NOTIFYs of its dialog,
    /// with the next CSeq, written to the store before it leaves (RFC 6665 §4.2.2) — and waits for its final
    /// response. The resource's state is not changed: this is for owners that stream values per subscription.
    ///
    /// A refusal with `Retry-After` keeps the subscription; any other failure, a timeout or a transport error
    /// removes it (and its package's owner is told).
    public func notify(_ key: SIPSubscriptionKey, body: SIPEventBody?) async -> SIPNotifyOutcome {
        guard isRunning else { return .failed(reason: "the endpoint is not running") }
        let now = self.now
        let steps: [Step]
        do {
            steps = try commit { notifier.notify(key, body: body, now: now).map(Step.notifier) }
        } catch {
            return .failed(reason: "\(error)")
        }
        guard steps.contains(where: { if case .notifier(.sendNotify) = $0 { true } else { false } }) else { return .gone }
        return await withCheckedContinuation { continuation in
            nextNotifyWaiter = continuation
            execute(steps)
            if let unclaimed = nextNotifyWaiter {
                nextNotifyWaiter = nil
                unclaimed.resume(returning: .gone)
            }
        }
    }

    /// Tells the owner of `package` of every subscription to it from now on: created (also each one alive now,
    /// e.g. restored after a restart, at once), refreshed, activated and removed. One owner per package; a new
    /// call ends the previous stream. The stream ends at ``shutdown()``.
    public func observeSubscriptions(of package: String) -> AsyncStream<SIPNotifierSubscriptionChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: SIPNotifierSubscriptionChange.self)
        subscriptionObservers.updateValue(continuation, forKey: package)?.finish()
        for subscription in notifier.subscriptions.values where subscription.key.event.package == package {
            continuation.yield(
                SIPNotifierSubscriptionChange(
                    kind: .created(subscription.status), key: subscription.key, resource: subscription.resource, subscriber: subscription.subscriber))
        }
        if !isRunning { continuation.finish() }
        return stream
    }

    /// Sets (or, with `nil`, removes) the check every new SUBSCRIBE of `package` passes before the notifier
    /// sees it: it may refuse with a status, reason and `Retry-After` (e.g. 403 for a subscriber that is not
    /// allowed, 480 for a resource that does not exist yet). In-dialog refreshes are not checked.
    public func setSubscribeAdmission(for package: String, _ admission: SIPSubscribeAdmission?) {
        admissions[package] = admission
    }

    private func tellOwner(_ kind: SIPNotifierSubscriptionChange.Kind, _ key: SIPSubscriptionKey) {
        guard let observer = subscriptionObservers[key.event.package] else { return }
        let subscription = notifier.subscriptions[key]
        observer.yield(
            SIPNotifierSubscriptionChange(kind: kind, key: key, resource: subscription?.resource ?? "", subscriber: subscription?.subscriber ?? ""))
    }

    nonisolated static func notifyOutcome(_ outcome: Result<SIPResponse, SIPTransportError>) -> SIPNotifyOutcome {
        switch outcome {
        case .success(let response) where response.statusCode < 300:
            return .delivered(statusCode: response.statusCode)
        case .success(let response):
            let retryAfter = response.headers["Retry-After"].flatMap { value in
                Int(value.prefix { $0.isNumber })
            }
            return .refused(statusCode: response.statusCode, retryAfter: retryAfter)
        case .failure(let error):
            return .failed(reason: "\(error)")
        }
    }

    /// Ends a subscription we notify with `reason` (RFC 6665 §4.2.2).
    public func terminate(_ key: SIPSubscriptionKey, reason: SIPSubscriptionTerminationReason, retryAfter: Int? = nil) throws(SIPEndpointError) {
        guard isRunning else { throw .notRunning }
        let now = self.now
        execute(try commit { notifier.terminate(key, reason: reason, retryAfter: retryAfter, now: now).map(Step.notifier) })
    }

    /// The composed published state of `resource` (our AoR when `nil`) in `package` (RFC 3903 §4).
    public func publishedState(package: String, resource: SIPURI? = nil) -> SIPEventBody? {
        compositor.state(event: package, resource: SIPEventResource.key(for: resource ?? configuration.localURI))
    }

    // MARK: - Listing

    /// Every live subscription in both directions, for `smf subscriptions`.
    public func subscriptions() -> [SIPSubscriptionInfo] {
        let now = self.now
        var list: [SIPSubscriptionInfo] = []
        for subscription in notifier.subscriptions.values {
            let key = subscription.key
            list.append(
                SIPSubscriptionInfo(
                    role: .notifier, event: key.event.description, resource: subscription.resource, peer: subscription.subscriber,
                    dialog: key.dialogID, state: subscription.status.rawValue,
                    expiresIn: (subscription.expiresAt - now).wholeSeconds, lastNotifyCSeq: notifier.notifySequence(inDialog: key.dialogID)))
        }
        for (_, entry) in subscribers.sorted(by: { $0.key < $1.key }) {
            let configuration = entry.machine.configuration
            if entry.machine.usages.isEmpty {
                list.append(
                    SIPSubscriptionInfo(
                        role: .subscriber, event: configuration.event.description, resource: SIPEventResource.key(for: configuration.resource),
                        peer: configuration.requestURI.description, dialog: nil, state: "subscribing", expiresIn: 0, lastNotifyCSeq: nil))
            }
            for usage in entry.machine.usages.values {
                list.append(
                    SIPSubscriptionInfo(
                        role: .subscriber, event: configuration.event.description, resource: SIPEventResource.key(for: configuration.resource),
                        peer: usage.dialog.remoteTarget.description, dialog: usage.dialog.id, state: usage.state?.description ?? "subscribing",
                        expiresIn: (usage.expiresAt - now).wholeSeconds, lastNotifyCSeq: usage.dialog.remoteSequence))
            }
        }
        return list.sorted { ($0.role.rawValue, $0.event, $0.peer) < ($1.role.rawValue, $1.event, $1.peer) }
    }

    /// What the endpoint holds in memory, for leak checks.
    struct Counts: Hashable {
        var notifierSubscriptions: Int
        var dialogs: Int
        var publications: Int
        var subscribers: Int
        var publishers: Int
        var timers: Int
        var flows: Int
        var notifyChains: Int
    }

    var counts: Counts {
        Counts(
            notifierSubscriptions: notifier.count, dialogs: notifier.dialogCount, publications: compositor.count,
            subscribers: subscribers.count, publishers: publishers.count, timers: timers.count, flows: flows.count,
            notifyChains: notifyChains.count)
    }

    // MARK: - Subscriber

    /// Subscribes to `package` at `target` (RFC 6665 §4.1). The subscription refreshes itself
    /// before expiry and starts over after 481, timeouts and retryable terminations; 423 is retried
    /// with Min-Expires. Updates arrive on the handle's stream.
    /// - Parameters:
    ///   - target: Request-URI and resource, e.g. `sip:alarm@10.0.0.2:5060;transport=tcp`.
    ///   - expires: Requested duration in seconds.
    ///   - accept: Body types for `Accept`; empty leaves it out.
    public func subscribe(to target: SIPURI, package: String, expires: Int = 3600, accept: [String] = []) throws(SIPEndpointError)
        -> SIPSubscriptionHandle
    {
        guard isRunning else { throw .notRunning }
        guard Self.destination(for: target) != nil else { throw .noDestination(target) }
        let subscriberConfiguration = SIPSubscriberConfiguration(
            requestURI: target, subscriber: configuration.localURI, localContact: configuration.contact,
            event: SIPEventHeader(package: package), expires: expires, accept: accept, retryDelay: configuration.subscriberRetryDelay,
            notifyWait: configuration.notifyWait)
        var machine = SIPSubscriberSubscription(configuration: subscriberConfiguration)
        let (stream, continuation) = AsyncStream.makeStream(of: SIPSubscriptionUpdate.self)
        let id = nextID()
        let actions = machine.start(now: now, using: &generator)
        subscribers[id] = SubscriberEntry(machine: machine, continuation: continuation)
        _ = executeSubscriber(id, actions)
        return SIPSubscriptionHandle(id: id, updates: stream)
    }

    /// Subscribes like ``subscribe(to:package:expires:accept:)`` with every part of the SUBSCRIBE given, and
    /// a handler that chooses the answer to each NOTIFY: it is awaited before the NOTIFY is answered, so a
    /// subscriber acknowledges (200) only what it has taken; a refusal with `Retry-After` keeps the
    /// subscription and the notifier sends the content again (RFC 6665 §4.1.3, §4.2.2). The handle's stream
    /// then carries only the termination.
    /// - Parameters:
    ///   - target: Request-URI.
    ///   - resource: To URI, the watched resource (default: `target`).
    ///   - subscriber: From URI (default: the endpoint's AoR).
    ///   - event: Package and `id`; `eventParameters` go into the `Event` header too (e.g. filters).
    ///   - retryDelay: Wait before subscribing again after a timeout or a retryable end (default: the
    ///     configuration's).
    public func subscribe(
        to target: SIPURI, resource: SIPURI? = nil, subscriber: SIPURI? = nil, event: SIPEventHeader, eventParameters: [String: String] = [:],
        expires: Int = 3600, accept: [String] = [], retryDelay: Duration? = nil, handler: @escaping SIPNotificationHandler
    ) throws(SIPEndpointError) -> SIPSubscriptionHandle {
        try startSubscription(
            to: target, resource: resource, subscriber: subscriber, event: event, eventParameters: eventParameters, expires: expires,
            accept: accept, body: nil, retryDelay: retryDelay, handler: handler)
    }

    /// Subscribes with a body in the initial SUBSCRIBE (RFC 6665 §4.1.2.1: its meaning is the package's, e.g. the
    /// alarm a supporter is asked about in `m2m-alarm`), from `subscriber` (default: the endpoint's AoR) to the
    /// resource `resource` (default: `target`). Refreshes carry no body. NOTIFYs arrive on the handle's stream.
    public func subscribe(
        to target: SIPURI, resource: SIPURI? = nil, subscriber: SIPURI? = nil, package: String, expires: Int = 3600, accept: [String] = [],
        body: SIPEventBody?
    ) throws(SIPEndpointError) -> SIPSubscriptionHandle {
        try startSubscription(
            to: target, resource: resource, subscriber: subscriber, event: SIPEventHeader(package: package), eventParameters: [:],
            expires: expires, accept: accept, body: body, retryDelay: nil, handler: nil)
    }

    private func startSubscription(
        to target: SIPURI, resource: SIPURI?, subscriber: SIPURI?, event: SIPEventHeader, eventParameters: [String: String], expires: Int,
        accept: [String], body: SIPEventBody?, retryDelay: Duration?, handler: SIPNotificationHandler?
    ) throws(SIPEndpointError) -> SIPSubscriptionHandle {
        guard isRunning else { throw .notRunning }
        guard Self.destination(for: target) != nil else { throw .noDestination(target) }
        var subscriberConfiguration = SIPSubscriberConfiguration(
            requestURI: target, resource: resource, subscriber: subscriber ?? configuration.localURI, localContact: configuration.contact,
            event: event, expires: expires, accept: accept, retryDelay: retryDelay ?? configuration.subscriberRetryDelay,
            notifyWait: configuration.notifyWait, eventParameters: eventParameters)
        subscriberConfiguration.body = body
        var machine = SIPSubscriberSubscription(configuration: subscriberConfiguration)
        let (stream, continuation) = AsyncStream.makeStream(of: SIPSubscriptionUpdate.self)
        let id = nextID()
        let actions = machine.start(now: now, using: &generator)
        subscribers[id] = SubscriberEntry(machine: machine, continuation: continuation, handler: handler)
        _ = executeSubscriber(id, actions)
        return SIPSubscriptionHandle(id: id, updates: stream)
    }

    /// Fetches the current state of `target` once: a SUBSCRIBE with `Expires: 0`, answered by one
    /// NOTIFY `terminated` that carries the state (RFC 6665 §4.4.3). Returns that notification, or
    /// `nil` when the SUBSCRIBE was refused or no NOTIFY came within Timer N.
    public func fetch(from target: SIPURI, package: String, accept: [String] = []) async throws(SIPEndpointError) -> SIPSubscriberNotification? {
        guard isRunning else { throw .notRunning }
        guard Self.destination(for: target) != nil else { throw .noDestination(target) }
        let subscriberConfiguration = SIPSubscriberConfiguration(
            requestURI: target, subscriber: configuration.localURI, localContact: configuration.contact,
            event: SIPEventHeader(package: package), expires: 0, accept: accept, retryDelay: configuration.subscriberRetryDelay,
            notifyWait: configuration.notifyWait)
        var machine = SIPSubscriberSubscription(configuration: subscriberConfiguration)
        let (stream, continuation) = AsyncStream.makeStream(of: SIPSubscriptionUpdate.self)
        let id = nextID()
        let actions = machine.start(now: now, using: &generator)
        subscribers[id] = SubscriberEntry(machine: machine, continuation: continuation, isFetch: true)
        _ = executeSubscriber(id, actions)
        for await update in stream {
            if case .notification(let notification) = update { return notification }
            return nil
        }
        return nil
    }

    /// Ends a subscription made with ``subscribe(to:package:expires:accept:)`` (`Expires: 0`,
    /// RFC 6665 §4.1.2.3); its stream ends with ``SIPSubscriberTermination/unsubscribed``.
    public func unsubscribe(_ handle: SIPSubscriptionHandle) {
        guard var entry = subscribers[handle.id] else { return }
        let actions = entry.machine.unsubscribe(now: now)
        subscribers[handle.id] = entry
        _ = executeSubscriber(handle.id, actions)
    }

    private func notifyArrived(_ incoming: SIPIncomingRequest) async -> SIPResponse {
        let request = incoming.request
        guard isRunning else { return Self.unavailable(request) }
        guard let id = subscribers.first(where: { $0.value.machine.owns(request) })?.key, var entry = subscribers[id] else {
            return SIPEventMessages.response(481, to: request)  // RFC 6665 §4.1.3
        }
        let actions = entry.machine.notifyReceived(request, now: now, using: &generator)
        subscribers[id] = entry
        let response = executeSubscriber(id, actions) ?? SIPEventMessages.response(500, to: request)
        // With a handler, the 200 the machine chose waits for it and may become a refusal (RFC 6665 §4.1.3).
        guard let handler = entry.handler, response.statusCode < 300,
            let notification = actions.lazy.compactMap({ action -> SIPSubscriberNotification? in
                if case .deliverNotification(let notification) = action { notification } else { nil }
            }).first
        else { return response }
        guard let refusal = await handler(notification, request) else { return response }
        // A refusal without Retry-After ends the subscription at the notifier (RFC 6665 §4.2.2): start over.
        if var current = subscribers[id] {
            let followUp = current.machine.notifyRefused(notification.dialogID, statusCode: refusal.statusCode, retryAfter: refusal.retryAfter)
            subscribers[id] = current
            _ = executeSubscriber(id, followUp)
        }
        return refusal.response(to: request)
    }

    private func executeSubscriber(_ id: Int, _ actions: [SIPSubscriberAction]) -> SIPResponse? {
        var response: SIPResponse?
        let isFetch = subscribers[id]?.isFetch ?? false
        for action in actions {
            // Once the subscription is forgotten (a fetch got its NOTIFY), what follows is moot:
            // for a fetch that would be a fresh SUBSCRIBE after `terminated;reason=timeout`.
            guard subscribers[id] != nil else { break }
            if isFetch {
                switch action {
                case .scheduleTimer(.refresh, _), .scheduleTimer(.expiry, _):
                    continue  // a fetch keeps nothing alive
                case .scheduleTimer(.retry, _):
                    endSubscriber(id, with: nil)
                    continue
                case .deliverNotification(let notification):
                    subscribers[id]?.continuation.yield(.notification(notification))
                    endSubscriber(id, with: nil)
                    continue
                default:
                    break
                }
            }
            switch action {
            case .sendRequest(let request):
                sendSubscribe(request, subscription: id)
            case .sendResponse(let answer):
                response = answer
            case .scheduleTimer(let timer, let delay):
                schedule(.subscriber(id, timer), after: delay)
            case .cancelTimer(let timer):
                cancel(.subscriber(id, timer))
            case .deliverNotification(let notification):
                if subscribers[id]?.handler == nil { subscribers[id]?.continuation.yield(.notification(notification)) }
            case .reportTermination(let termination):
                endSubscriber(id, with: termination)
            }
        }
        return response
    }

    /// Forgets a subscriber: its timers stop and its stream ends (after `termination`, if given).
    private func endSubscriber(_ id: Int, with termination: SIPSubscriberTermination?) {
        for timer in Array(timers.ids) { if case .subscriber(id, _) = timer { cancel(timer) } }
        guard let entry = subscribers.removeValue(forKey: id) else { return }
        if let termination { entry.continuation.yield(.terminated(termination)) }
        entry.continuation.finish()
    }

    private func sendSubscribe(_ request: SIPRequest, subscription id: Int) {
        guard let destination = Self.destination(for: request) else {
            subscribeCompleted(request, outcome: .failure(.transportFailure), subscription: id)
            return
        }
        let transport = self.transport
        Task { [weak self] in
            let outcome = await Self.deliver(request, flow: nil, target: destination, transport: transport)
            await self?.subscribeCompleted(request, outcome: outcome, subscription: id)
        }
    }

    private func subscribeCompleted(_ request: SIPRequest, outcome: Result<SIPResponse, SIPTransportError>, subscription id: Int) {
        guard isRunning, var entry = subscribers[id] else { return }
        let now = self.now
        let actions: [SIPSubscriberAction]
        switch outcome {
        case .success(let response):
            actions = entry.machine.responseReceived(response, now: now, using: &generator)
        case .failure(let error):
            guard error != .cancelled else { return }
            actions = entry.machine.requestFailed(request, now: now, using: &generator)
        }
        subscribers[id] = entry
        _ = executeSubscriber(id, actions)
    }

    // MARK: - Publisher

    /// Publishes `body` for `package` at the ESC of `target` (RFC 3903 §4.1), refreshing it before
    /// it expires; a 412 re-publishes the full state, a 423 retries with Min-Expires.
    public func publish(to target: SIPURI, package: String, body: SIPEventBody, expires: Int = 3600) throws(SIPEndpointError)
        -> SIPPublicationHandle
    {
        guard isRunning else { throw .notRunning }
        guard Self.destination(for: target) != nil else { throw .noDestination(target) }
        var machine = SIPPublisher(
            configuration: SIPPublisherConfiguration(resource: target, publisher: configuration.localURI, event: package, expires: expires),
            using: &generator)
        let (stream, continuation) = AsyncStream.makeStream(of: SIPPublicationUpdate.self)
        let id = nextID()
        let actions = machine.publish(body, now: now)
        publishers[id] = PublisherEntry(machine: machine, continuation: continuation)
        executePublisher(id, actions)
        return SIPPublicationHandle(id: id, updates: stream, endpoint: self)
    }

    func modifyPublication(_ id: Int, body: SIPEventBody) {
        guard var entry = publishers[id] else { return }
        let actions = entry.machine.publish(body, now: now)
        publishers[id] = entry
        executePublisher(id, actions)
    }

    func refreshPublication(_ id: Int) {
        guard var entry = publishers[id] else { return }
        let actions = entry.machine.timerFired(.refresh, now: now)
        publishers[id] = entry
        executePublisher(id, actions)
    }

    func removePublication(_ id: Int) {
        guard var entry = publishers[id] else { return }
        let actions = entry.machine.remove(now: now)
        publishers[id] = entry
        executePublisher(id, actions)
    }

    private func executePublisher(_ id: Int, _ actions: [SIPPublisherAction]) {
        for action in actions {
            switch action {
            case .sendRequest(let request):
                sendPublish(request, publication: id)
            case .scheduleTimer(let timer, let delay):
                schedule(.publisher(id, timer), after: delay)
            case .cancelTimer(let timer):
                cancel(.publisher(id, timer))
            case .reportPublished(let entityTag, let expires):
                publishers[id]?.continuation.yield(.published(entityTag: entityTag, expires: expires))
            case .reportFailure(let statusCode):
                publishers[id]?.continuation.yield(.failed(statusCode: statusCode))
            case .reportRemoved:
                cancel(.publisher(id, .refresh))
                if let entry = publishers.removeValue(forKey: id) {
                    entry.continuation.yield(.removed)
                    entry.continuation.finish()
                }
            }
        }
    }

    private func sendPublish(_ request: SIPRequest, publication id: Int) {
        guard let destination = Self.destination(for: request) else {
            publishCompleted(request, outcome: .failure(.transportFailure), publication: id)
            return
        }
        let transport = self.transport
        Task { [weak self] in
            let outcome = await Self.deliver(request, flow: nil, target: destination, transport: transport)
            await self?.publishCompleted(request, outcome: outcome, publication: id)
        }
    }

    private func publishCompleted(_ request: SIPRequest, outcome: Result<SIPResponse, SIPTransportError>, publication id: Int) {
        guard isRunning, var entry = publishers[id] else { return }
        let now = self.now
        let actions: [SIPPublisherAction]
        switch outcome {
        case .success(let response):
            actions = entry.machine.responseReceived(response, now: now, using: &generator)
        case .failure(let error):
            guard error != .cancelled else { return }
            actions = entry.machine.requestFailed(request, now: now)
        }
        publishers[id] = entry
        executePublisher(id, actions)
    }

    // MARK: - MESSAGE

    /// Sends a pager-mode MESSAGE (RFC 3428 §4) and reports what became of it: `delivered` for a
    /// 2xx, `rejected` with the status, `timedOut` when no final response came or the transport
    /// could not reach the peer.
    /// - Throws: ``SIPEndpointError/notRunning``, ``SIPEndpointError/noDestination(_:)``.
    public func sendMessage(to target: SIPURI, body: SIPEventBody) async throws(SIPEndpointError) -> SIPMessageDeliveryResult {
        try await sendMessage(to: target, from: configuration.localURI, body: body)
    }

    /// Sends a pager-mode MESSAGE from `sender` (e.g. a service instance's URI on this node, so that a reply
    /// reaches the instance); see ``sendMessage(to:body:)``.
    public func sendMessage(to target: SIPURI, from sender: SIPURI, body: SIPEventBody) async throws(SIPEndpointError) -> SIPMessageDeliveryResult {
        guard isRunning else { throw .notRunning }
        guard let destination = Self.destination(for: target) else { throw .noDestination(target) }
        let request = SIPPagerMessage.make(to: target, from: sender, body: body, using: &generator)
        do {
            let response = try await transport.send(request, to: destination)
            return SIPMessageDeliveryResult(response: response) ?? .timedOut
        } catch {
            logger.info("MESSAGE not delivered", metadata: ["sip.target": "\(target)", "sip.error": "\(error)"])
            return .timedOut
        }
    }

    /// Sends a text MESSAGE; see ``sendMessage(to:body:)``.
    public func sendMessage(to target: SIPURI, body: String, contentType: String = "text/plain") async throws(SIPEndpointError)
        -> SIPMessageDeliveryResult
    {
        try await sendMessage(to: target, body: SIPEventBody(contentType: contentType, text: body))
    }
}

// MARK: - Saved forms

/// A notifier subscription with its dialog, as saved in the store.
struct SIPStoredSubscription: Codable {
    var subscription: SIPNotifierSubscription
    var dialog: SIPDialog
}

/// The latest state of a resource, as saved in the store.
struct SIPStoredResourceState: Codable, Hashable {
    var package: String
    var resource: String
    var state: SIPEventBody
}

/// Builds a ``SIPNotifier/Snapshot`` through its Codable form (its memberwise init is not public).
struct NotifierSnapshotBridge: Encodable {
    struct ResourceState: Encodable {
        var event: String
        var resource: String
        var state: SIPEventBody
    }

    var dialogs: [SIPDialog] = []
    var subscriptions: [SIPNotifierSubscription] = []
    var resourceStates: [ResourceState] = []
}

/// Builds a ``SIPEventStateCompositor/Snapshot`` through its Codable form.
struct CompositorSnapshotBridge: Encodable {
    var publications: [SIPPublication]
    var sequence: UInt64
}

extension Duration {
    /// The duration in seconds as a floating-point number (for store columns).
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Whole seconds, rounded up, never negative.
    var wholeSeconds: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}
