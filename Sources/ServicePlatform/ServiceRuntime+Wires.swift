// Wires: the producer's subscriptions and the values it pumps through them, the consumer's subscription and what
// it acknowledges (docs/services.md "Wire" and "Acknowledgement").

import Composition
import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax

/// A wire package as the runtime registers it: the package the node already had (if any), also taking the
/// runtime's `application/smf-values+json` bodies.
struct ServiceWirePackage: SIPEventPackage {
    let name: String
    let base: (any SIPEventPackage)?

    var acceptedContentTypes: [String] {
        let own = base?.acceptedContentTypes ?? []
        return own.contains(ServiceValueBatch.contentType) ? own : own + [ServiceValueBatch.contentType]
    }
    var expiresPolicy: SIPExpiresPolicy { base?.expiresPolicy ?? SIPExpiresPolicy(defaultSeconds: 600, minimumSeconds: 60, maximumSeconds: 86_400) }
    var minimumNotifyInterval: Duration { base?.minimumNotifyInterval ?? .zero }
    func authorize(_ subscribe: SIPRequest) -> SIPSubscriptionAuthorization { base?.authorize(subscribe) ?? .accept }
    func resourceKey(for uri: SIPURI) -> String { base?.resourceKey(for: uri) ?? SIPEventResource.key(for: uri) }
    func initialState(for subscription: SIPNotifierSubscription) -> SIPEventBody? { base?.initialState(for: subscription) }
    func compose(_ publications: [SIPEventBody]) -> SIPEventBody? { base.map { $0.compose(publications) } ?? publications.last }
}

extension ServiceRuntime {
    // MARK: - Packages

    /// Registers a wire package with the endpoint (once), checks its new SUBSCRIBEs and follows its
    /// subscriptions.
    func ensureWirePackage(_ name: String) async {
        guard wirePackages.insert(name).inserted else { return }
        let base = await endpoint.package(named: name)
        await endpoint.registerPackage(ServiceWirePackage(name: name, base: base))
        await hookPackage(name)
    }

    /// Has every new SUBSCRIBE of `package` checked by ``admit(_:)`` and its subscriptions followed by
    /// ``subscriptionChanged(_:)`` (once per package): wires, instances' own resources and the node's
    /// (``routeOutsideSubscriptions(of:admission:changes:)``) share the package's one admission and observer.
    func hookPackage(_ name: String) async {
        guard hookedPackages.insert(name).inserted else { return }
        if await endpoint.package(named: name) == nil { await endpoint.registerPackage(SIPBasicEventPackage(name: name)) }
        await endpoint.setSubscribeAdmission(for: name) { [weak self] request in
            await self?.admit(request)
        }
        let changes = await endpoint.observeSubscriptions(of: name)
        observerTasks[name] = Task { [weak self] in
            for await change in changes {
                await self?.subscriptionChanged(change)
            }
        }
    }

    /// Hands the SUBSCRIBEs of `package` that are addressed to no instance (e.g. to the node's own address of record:
    /// a variant-2 notifier asking a supporter's node about an alarm) to the node: `admission` decides them, and
    /// `changes` hears of their subscriptions. The runtime keeps checking the package's wire and instance SUBSCRIBEs.
    public func routeOutsideSubscriptions(
        of package: String, admission: @escaping SIPSubscribeAdmission,
        changes: @escaping @Sendable (SIPNotifierSubscriptionChange) async -> Void
    ) async {
        outsideAdmissions[package] = admission
        outsideObservers[package] = changes
        await hookPackage(package)
    }

    /// Decides a new SUBSCRIBE to an instance (docs/services.md "Wire"): the sender must be a member of the
    /// application's sub-community and the consumer the current placement names. A SUBSCRIBE naming no wire (no `id`
    /// in its Event) to the instance's own URI (with parameters, e.g. the notifier's `;supporter=` resources) is its
    /// component's to admit; one addressed
    /// to no instance goes to the node's admission for the package, if it set one, else passes.
    func admit(_ request: SIPRequest) async -> SIPRequestRefusal? {
        guard let user = request.uri.user, user != configuration.nodeName, let target = ServiceAddressing.instance(ofUser: user) else {
            guard let package = request.headers.event?.package, let outside = outsideAdmissions[package] else { return nil }
            return await outside(request)
        }
        guard let application = hosted[target.application] else {
            return SIPRequestRefusal(statusCode: 480, reason: "No Such Application Here Yet", retryAfter: 1)
        }
        if let answer = await membership.authorize(request, in: application.scope) { return Self.refusal(answer) }
        if request.headers.event?.id == nil, let resource = request.headers.to?.uri, resource.user == user {
            return await admitInstanceSubscription(request, to: InstanceKey(application: target.application, service: target.service), resource: resource)
        }
        guard let current = hosted[target.application], let wireID = request.headers.event?.id, let wire = current.wire(wireID),
            wire.from.service == target.service
        else {
            return SIPRequestRefusal(statusCode: 404, reason: "No Such Wire")
        }
        guard current.services(on: me).contains(target.service) else {
            return SIPRequestRefusal(statusCode: 404, reason: "Service Not Placed Here")
        }
        guard let consumerHost = current.host(of: wire.to.service), let from = request.headers.from?.uri,
            from.user == "\(target.application).\(wire.to.service)",
            ServiceAddressing.hostKey(from) == ServiceAddressing.hostKey(consumerHost)
        else {
            return SIPRequestRefusal(statusCode: 403, reason: "Not The Current Consumer")
        }
        // An instance waiting for its time window still serves what it emitted before.
        let instanceKey = InstanceKey(application: target.application, service: target.service)
        guard instances[instanceKey] != nil || waiting[instanceKey] != nil else {
            return SIPRequestRefusal(statusCode: 480, reason: "Service Instance Not Started", retryAfter: 1)
        }
        return nil
    }

    /// A SUBSCRIBE to an instance's own resource (not a wire): its component decides.
    func admitInstanceSubscription(_ request: SIPRequest, to key: InstanceKey, resource: SIPURI) async -> SIPRequestRefusal? {
        guard let instance = instances[key], instance.state == "running" else {
            return SIPRequestRefusal(statusCode: 480, reason: "Service Instance Not Running", retryAfter: 1)
        }
        let direct = Self.directRequest(request)
        guard let refusal = await instance.component.admitSubscription(direct, resource: resource.description) else { return nil }
        return Self.refusal(refusal)
    }

    /// A wire subscription was created, refreshed or removed at this producer; subscriptions that are no wire's go
    /// to the node when it routes the package's outside subscriptions.
    func subscriptionChanged(_ change: SIPNotifierSubscriptionChange) async {
        if let outside = outsideObservers[change.key.event.package], !Self.isWireOrInstanceResource(change.resource) {
            await outside(change)
            return
        }
        let key: WireKey
        if case .removed = change.kind {
            guard let found = producers.first(where: { $0.value.subscription == change.key })?.key else { return }
            producers[found]?.subscription = nil
            markStatusDirty(found.application)
            return
        }
        guard let resource = Self.wireResource(of: change.resource), let wire = change.key.event.id, wire == resource.wire else { return }
        key = WireKey(application: resource.application, wire: wire)
        guard case .created = change.kind else { return }
        guard let producer = producers[key], producer.port.service == resource.service else {
            // A subscription to a wire this node no longer produces (restored after a restart).
            try? await endpoint.terminate(change.key, reason: .noresource)
            return
        }
        if let old = producer.subscription, old != change.key {
            // The consumer subscribed again (restarted, moved): the newest subscription carries the wire.
            Task { [endpoint] in try? await endpoint.terminate(old, reason: .deactivated) }
        }
        producers[key]?.subscription = change.key
        producers[key]?.lastProblem = nil
        producers[key]?.kick?.yield()
        markStatusDirty(key.application)
    }

    /// Whether a resource key names a wire (`sip:app.service.wire@host`) or an instance (`sip:app.service@host…`).
    static func isWireOrInstanceResource(_ resource: String) -> Bool {
        guard let colon = resource.firstIndex(of: ":"), let at = resource.firstIndex(of: "@"), colon < at else { return false }
        let user = String(resource[resource.index(after: colon)..<at])
        return ServiceAddressing.wireResource(ofUser: user) != nil || ServiceAddressing.instance(ofUser: user) != nil
    }

    /// `app.service.wire` of a resource key `sip:app.service.wire@host`.
    static func wireResource(of resource: String) -> (application: String, service: String, wire: String)? {
        guard let colon = resource.firstIndex(of: ":"), let at = resource.firstIndex(of: "@"), colon < at else { return nil }
        return ServiceAddressing.wireResource(ofUser: String(resource[resource.index(after: colon)..<at]))
    }

    // MARK: - Producing

    /// Makes sure this node produces `key`: its package, cursor and pump (event ports) or state (state ports).
    /// When the wire's consumer moved, the old consumer's subscription ends.
    func ensureProducer(_ key: WireKey, wire: Wire, in application: HostedApplication) async {
        guard let descriptor = catalog[application.composition.service(wire.from.service)?.type ?? ""]?.output(wire.from.port) else { return }
        let consumerHost = application.deployment.placements[wire.to.service] ?? ""
        if var producer = producers[key] {
            producer.wire = wire
            if !Self.sameNode(producer.consumerHost, consumerHost) {
                if let old = producer.subscription {
                    Task { [endpoint] in try? await endpoint.terminate(old, reason: .rejected) }
                }
                producer.subscription = nil
                producer.consumerHost = consumerHost
            }
            producers[key] = producer
            return
        }
        await ensureWirePackage(descriptor.eventPackage)
        let port = PortKey(application: key.application, service: wire.from.service, port: wire.from.port)
        let durable = registry.factory(for: application.composition.service(wire.from.service)?.type ?? "")?.durability == .durable
        var producer = ProducerWire(
            wire: wire, port: port, delivery: descriptor.delivery, package: descriptor.eventPackage, isDurable: durable,
            cursor: durable ? restoredCursors[key] ?? 0 : 0, subscription: nil, consumerHost: consumerHost)
        if descriptor.delivery == .events {
            let (kicks, kick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            producer.kick = kick
            producer.task = Task { [weak self] in _ = await self?.pump(key, kicks: kicks) }
        }
        producers[key] = producer
        if descriptor.delivery == .state, portStates[port] != nil {
            try? await publishState(of: key, producer: producer)
        }
    }

    func removeProducer(_ key: WireKey) {
        guard let producer = producers.removeValue(forKey: key) else { return }
        producer.task?.cancel()
        producer.kick?.finish()
        if let subscription = producer.subscription {
            Task { [endpoint] in try? await endpoint.terminate(subscription, reason: .noresource) }
        }
        resolveAckWaiters()
    }

    /// What a wire's pump does next.
    enum PumpStep {
        case idle
        case send(SIPSubscriptionKey, SIPEventBody, through: UInt64)
        case stop
    }

    /// Sends a wire's values in order, a batch at a time, each batch after the last was answered; waits for a
    /// kick (a new value, a new subscription) when there is nothing to send or nobody to send it to.
    func pump(_ key: WireKey, kicks: AsyncStream<Void>) async {
        var iterator = kicks.makeAsyncIterator()
        while !Task.isCancelled {
            switch nextPumpStep(key) {
            case .stop:
                return
            case .idle:
                guard await iterator.next() != nil else { return }
            case .send(let subscription, let body, let through):
                let outcome = await endpoint.notify(subscription, body: body)
                if let delay = pumpOutcome(key, subscription: subscription, through: through, outcome: outcome) {
                    guard await pause(delay) else { return }
                }
            }
        }
    }

    func nextPumpStep(_ key: WireKey) -> PumpStep {
        guard let producer = producers[key] else { return .stop }
        guard let subscription = producer.subscription, let outbox = outboxes[producer.port] else { return .idle }
        let batch = outbox.batch(after: producer.cursor, filters: producer.wire.filters, limit: configuration.batchLimit)
        guard !batch.entries.isEmpty else {
            if batch.through > producer.cursor { advanceCursor(key, to: batch.through) }
            return .idle
        }
        let body = ServiceValueBatch(kind: "events", values: batch.entries.map { ServiceValueBatch.Entry(sequence: $0.sequence, value: $0.value) })
        return .send(subscription, SIPEventBody(contentType: ServiceValueBatch.contentType, bytes: body.bytes), through: batch.through)
    }

    /// Carries out a batch's outcome; returns how long to wait before the next attempt, if at all.
    func pumpOutcome(_ key: WireKey, subscription: SIPSubscriptionKey, through: UInt64, outcome: SIPNotifyOutcome) -> Duration? {
        guard producers[key] != nil else { return nil }
        switch outcome {
        case .delivered:
            if producers[key]?.subscription == subscription { advanceCursor(key, to: through) }
            return nil
        case .refused(let statusCode, let retryAfter):
            producers[key]?.lastProblem = "refused \(statusCode)"
            markStatusDirty(key.application)
            // With Retry-After the subscription stays: send again then. Without, it is gone (the observer says so).
            return retryAfter.map { .seconds(max(0, $0)) } ?? (producers[key]?.subscription == subscription ? configuration.retryDelay : nil)
        case .failed(let reason):
            if producers[key]?.subscription == subscription {
                producers[key]?.subscription = nil
                producers[key]?.lastProblem = "consumer unreachable: \(reason)"
            }
            markStatusDirty(key.application)
            return nil
        case .gone:
            if producers[key]?.subscription == subscription { producers[key]?.subscription = nil }
            markStatusDirty(key.application)
            return nil
        }
    }

    /// The consumer of `key` acknowledged through `sequence` (or every value up to it was filtered out):
    /// stored for a durable producer with the values every wire of the port now has dropped, and relays waiting
    /// for it are told.
    func advanceCursor(_ key: WireKey, to sequence: UInt64) {
        guard var producer = producers[key], sequence > producer.cursor else { return }
        producer.cursor = sequence
        producers[key] = producer
        let port = producer.port
        let lowest = producers.values.filter { $0.port == port }.map(\.cursor).min() ?? sequence
        if producer.isDurable {
            do {
                try store.acknowledge(
                    application: key.application, wire: key.wire, sequence: sequence, service: port.service, port: port.port, pruneThrough: lowest)
            } catch {
                logger.warning("cannot store a wire's acknowledgement", metadata: ["sdp.wire": "\(key.wire)", "sdp.error": "\(error)"])
            }
        }
        outboxes[port]?.prune(through: lowest)
        resolveAckWaiters()
        markStatusDirty(key.application, countersOnly: true)
    }

    // MARK: - Relay acknowledgement

    /// Waits until every need is met (each wire's consumer acknowledged through its sequence number), at most
    /// `timeout`; false when it ran out.
    func waitForAcks(_ needs: [AckNeed], timeout: Duration) async -> Bool {
        if acknowledged(needs) { return true }
        nextWaiterID += 1
        let id = nextWaiterID
        let clock = self.clock
        Task { [weak self] in
            try? await clock.sleep(timeout)
            await self?.expireWaiter(id)
        }
        return await withCheckedContinuation { continuation in
            ackWaiters[id] = (needs, continuation)
        }
    }

    func acknowledged(_ needs: [AckNeed]) -> Bool {
        needs.allSatisfy { need in producers[need.wire].map { $0.cursor >= need.sequence } ?? true }
    }

    func resolveAckWaiters() {
        for (id, waiter) in ackWaiters where acknowledged(waiter.needs) {
            ackWaiters[id] = nil
            waiter.continuation.resume(returning: true)
        }
    }

    func expireWaiter(_ id: Int) {
        guard let waiter = ackWaiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(returning: acknowledged(waiter.needs))
    }

    // MARK: - Consuming

    /// Makes sure this node consumes `key` from the producer its placement names; a moved producer means a new
    /// subscription (the old one ends).
    func ensureConsumer(_ key: WireKey, wire: Wire, in application: HostedApplication) {
        let producerHost = application.deployment.placements[wire.from.service] ?? ""
        if let existing = consumers[key], Self.sameNode(existing.producerHost, producerHost) {
            consumers[key]?.wire = wire
            return
        }
        cancelConsumer(key)
        nextGeneration += 1
        let generation = nextGeneration
        consumers[key] = ConsumerWire(wire: wire, producerHost: producerHost, generation: generation, handle: nil, task: nil, state: "subscribing")
        consumers[key]?.task = Task { [weak self] in _ = await self?.consume(key, generation: generation) }
    }

    func cancelConsumer(_ key: WireKey) {
        guard let consumer = consumers.removeValue(forKey: key) else { return }
        consumer.task?.cancel()
        if let handle = consumer.handle {
            Task { [endpoint] in await endpoint.unsubscribe(handle) }
        }
    }

    /// Keeps the consumer's subscription: subscribes, and subscribes again (after the retry delay) whenever it
    /// ends, until the wire is cancelled.
    func consume(_ key: WireKey, generation: Int) async {
        while !Task.isCancelled {
            guard let consumer = consumers[key], consumer.generation == generation, let application = hosted[key.application],
                let producerHost = SIPURI(consumer.producerHost), let package = catalog[application.composition.service(consumer.wire.from.service)?.type ?? ""]?
                    .output(consumer.wire.from.port)?.eventPackage
            else { return }
            await ensureWirePackage(package)
            let wire = consumer.wire
            let target = ServiceAddressing.instanceURI(application: key.application, service: wire.from.service, host: producerHost)
            let resource = ServiceAddressing.wireResourceURI(application: key.application, service: wire.from.service, wire: key.wire, host: producerHost)
            let from = ServiceAddressing.instanceURI(application: key.application, service: wire.to.service, host: configuration.addressOfRecord)
            let parameters = Dictionary(wire.filters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            let handle: SIPSubscriptionHandle
            do {
                handle = try await endpoint.subscribe(
                    to: target, resource: resource, subscriber: from, event: SIPEventHeader(package: package, id: key.wire), eventParameters: parameters,
                    expires: configuration.wireExpires, accept: [ServiceValueBatch.contentType], retryDelay: configuration.retryDelay
                ) { [weak self] notification, request in
                    guard let self else { return SIPRequestRefusal(statusCode: 481, reason: "Wire Gone") }
                    return await self.notificationArrived(key, generation: generation, notification, request)
                }
            } catch {
                consumers[key]?.state = "cannot subscribe: \(error)"
                guard await pause(configuration.retryDelay) else { return }
                continue
            }
            guard consumers[key]?.generation == generation, !Task.isCancelled else {
                await endpoint.unsubscribe(handle)
                return
            }
            consumers[key]?.handle = handle
            for await update in handle.updates {
                if case .terminated(let termination) = update, consumers[key]?.generation == generation {
                    consumers[key]?.state = Self.describe(termination)
                    markStatusDirty(key.application)
                }
            }
            guard await pause(configuration.retryDelay) else { return }
        }
    }

    static func describe(_ termination: SIPSubscriberTermination) -> String {
        switch termination {
        case .unsubscribed: "unsubscribed"
        case .refused(let statusCode): "refused \(statusCode)"
        case .terminated(let reason): "terminated (\(reason))"
        }
    }

    /// A NOTIFY on a wire this node consumes: the values go to the instance, and the answer says whether they are
    /// acknowledged (docs/services.md "Acknowledgement"): `nil` (200) once safe, 500 with Retry-After otherwise.
    func notificationArrived(
        _ key: WireKey, generation: Int, _ notification: SIPSubscriberNotification, _ request: SIPRequest
    ) async -> SIPRequestRefusal? {
        guard isRunning else { return SIPRequestRefusal(statusCode: 503, reason: "Stopping", retryAfter: 1) }
        guard let consumer = consumers[key], consumer.generation == generation, let application = hosted[key.application] else {
            return SIPRequestRefusal(statusCode: 481, reason: "Wire Gone")
        }
        deliveriesInFlight += 1
        defer { deliveriesInFlight -= 1 }
        if let answer = await membership.authorize(request, in: application.scope) {
            logger.info(
                "a wire's NOTIFY was refused by membership",
                metadata: ["sdp.wire": "\(key.wire)", "sdp.status": "\(answer.statusCode) \(answer.reason ?? "")", "sip.call-id": "\(request.headers.callID ?? "-")"])
            // Without Retry-After the producer drops the subscription and this end subscribes again after the retry
            // delay (SIPEndpoint); until then the wire says why it is not active.
            consumers[key]?.state = "NOTIFY refused \(answer.statusCode) \(answer.reason ?? ""), subscribing again"
            markStatusDirty(key.application)
            return Self.refusal(answer)
        }
        if notification.state.value == .active, consumers[key]?.state != "active" {
            consumers[key]?.state = "active"
            markStatusDirty(key.application)
        }
        guard let body = notification.body else { return nil }
        guard body.mediaType == ServiceValueBatch.contentType else {
            return SIPRequestRefusal(statusCode: 415, reason: "Not \(ServiceValueBatch.contentType)")
        }
        let batch: ServiceValueBatch
        do {
            batch = try ServiceValueBatch.decode(body.bytes)
        } catch {
            return SIPRequestRefusal(statusCode: 400, reason: "Invalid Values Body")
        }
        let instanceKey = InstanceKey(application: key.application, service: consumer.wire.to.service)
        guard let instance = instances[instanceKey], instance.state == "running" else {
            if let waitingInstance = waiting[instanceKey] {
                // A state is sent whole again when the instance starts (it subscribes anew); events wait at the producer.
                if batch.kind == "state" { return nil }
                return SIPRequestRefusal(statusCode: 500, reason: "Outside Its Time Window", retryAfter: retryAfter(whileWaiting: waitingInstance))
            }
            return SIPRequestRefusal(statusCode: 500, reason: "Service Instance Not Running", retryAfter: 1)
        }
        let port = consumer.wire.to.port
        if batch.kind == "state" {
            do {
                try await instance.component.receive(.state(port: port, wire: key.wire, batch.values.map(\.value)), context: instance.context)
            } catch {
                return SIPRequestRefusal(statusCode: 500, reason: "Input Not Taken", retryAfter: 1)
            }
            consumers[key]?.received += 1
            markStatusDirty(key.application, countersOnly: true)
            return nil
        }
        var taken: [String] = []
        var needs: [AckNeed] = []
        var failure: SIPRequestRefusal?
        for entry in batch.values {
            if instances[instanceKey]?.inputs.contains(entry.id) == true || taken.contains(entry.id) {
                consumers[key]?.duplicates += 1
                continue
            }
            let scope = ServiceHandlingScope(application: key.application, service: instanceKey.service, inputID: entry.id)
            var value = entry.value
            value.trace = ServiceHop.extend(
                value.trace,
                with: ServiceHop(
                    service: instanceKey.service, type: instance.info.serviceType, node: me, action: .received, port: port,
                    detail: "by wire \(key.wire)", atNanoseconds: clock.now().traceNanoseconds))
            do {
                try await ServiceHandling.$scope.withValue(scope) {
                    try await ServiceTracing.$current.withValue(value.trace) {
                        try await instance.component.receive(.value(port: port, wire: key.wire, value), context: instance.context)
                    }
                }
            } catch {
                failure = SIPRequestRefusal(statusCode: 500, reason: "Input Not Taken", retryAfter: 1)
                break
            }
            taken.append(entry.id)
            needs += scope.allNeeds
        }
        if instance.durability == .relay, failure == nil, !(await waitForAcks(needs, timeout: configuration.relayTimeout)) {
            return SIPRequestRefusal(statusCode: 500, reason: "Not Yet Acknowledged Downstream", retryAfter: 1)
        }
        if instance.durability == .durable, !taken.isEmpty {
            do {
                try store.addSeenInputs(
                    application: key.application, service: instanceKey.service, ids: taken, keep: configuration.inputLogCapacity)
            } catch {
                logger.warning("cannot store input ids", metadata: ["sdp.service": "\(instanceKey.service)", "sdp.error": "\(error)"])
            }
        }
        if failure == nil || instance.durability == .durable {
            for id in taken { instances[instanceKey]?.inputs.insert(id) }
            consumers[key]?.received += UInt64(taken.count)
        }
        markStatusDirty(key.application, countersOnly: true)
        return failure
    }
}
