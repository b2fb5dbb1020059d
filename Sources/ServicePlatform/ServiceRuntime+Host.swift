// The host side of the runtime: deploy MESSAGEs, instances, emitting, direct requests, the smf-app status.

import Composition
import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax

extension ServiceRuntime {
    // MARK: - Deploy and undeploy MESSAGEs

    /// A deployer's MESSAGE `application/smf-deploy+json` (docs/services.md "Instantiate"): checked like
    /// `smf compose validate`, committed, and only then answered 200; the instances placed here start after.
    func deployArrived(_ request: SIPRequest) async -> SIPResponse {
        let deployment: ServiceDeployment
        do {
            deployment = try sdpDecode(ServiceDeployment.self, request.eventBody?.bytes ?? [], what: "the deploy body")
        } catch {
            return answer(request, 400, "Invalid Deploy Body")
        }
        let result = CompositionLoader(catalog: catalog).load(bytes: Array(deployment.composition.utf8), fileName: deployment.fileName)
        guard let composition = result.composition, result.isValid else {
            let first = result.diagnostics.first.map { "\($0)" } ?? "no composition"
            return answer(request, 400, "Invalid Composition: \(first)")
        }
        guard composition.name == deployment.application else {
            return answer(request, 400, "Composition Name Is Not \(deployment.application)")
        }
        let scope = ServiceScope(community: composition.community, subcommunity: composition.subcommunity)
        if let refusal = await membership.authorize(request, in: scope) { return answer(request, Self.refusal(refusal).statusCode, refusal.reason) }
        let mine = deployment.placements.filter { Self.sameNode($0.value, me) }.map(\.key).sorted()
        if !mine.isEmpty {
            guard await membership.scopes().contains(scope) else { return answer(request, 403, "Not In Sub-Community \(scope)") }
        }
        for service in mine {
            guard let declaration = composition.service(service) else { return answer(request, 400, "Unknown Service \(service)") }
            guard let factory = registry.factory(for: declaration.type) else { return answer(request, 488, "No Component For Type \(declaration.type)") }
            do {
                try factory.check(instanceInfo(service: declaration, of: deployment, scope: scope))
            } catch {
                let problem = (error as? ServicePlatformError)?.message ?? "\(error)"
                return answer(request, 488, "Invalid Configuration: " + problem.split(whereSeparator: \.isNewline).joined(separator: " "))
            }
        }
        guard isRunning else { return answer(request, 503) }
        switch ServiceRevisionDecision.decide(deployment, stored: hosted[deployment.application]?.deployment) {
        case .stale:
            return answer(request, 409, "Stale Revision \(deployment.revision) (have \(hosted[deployment.application]?.deployment.revision ?? 0))")
        case .unchanged:
            return answer(request, 200)
        case .apply:
            break
        }
        if mine.isEmpty {
            // Nothing of it runs here (any more): forget it.
            if hosted[deployment.application] != nil { await removeApplication(deployment.application) }
            return answer(request, 200)
        }
        do {
            try store.saveHostedApplication(deployment)
        } catch {
            logger.warning("cannot store a deployment", metadata: ["sdp.app": "\(deployment.application)", "sdp.error": "\(error)"])
            return answer(request, 500, "Cannot Store The Deployment", retryAfter: 1)
        }
        hosted[deployment.application] = HostedApplication(deployment: deployment, composition: composition, scope: scope)
        logger.info(
            "deployment committed",
            metadata: ["sdp.app": "\(deployment.application)", "sdp.revision": "\(deployment.revision)", "sdp.services": "\(mine)"])
        let name = deployment.application
        Task { [weak self] in _ = await self?.reconcile(name) }
        return answer(request, 200)
    }

    /// A deployer's MESSAGE `application/smf-undeploy+json`: every instance of the application stops, its wires
    /// end and its rows go.
    func undeployArrived(_ request: SIPRequest) async -> SIPResponse {
        let undeployment: ServiceUndeployment
        do {
            undeployment = try sdpDecode(ServiceUndeployment.self, request.eventBody?.bytes ?? [], what: "the undeploy body")
        } catch {
            return answer(request, 400, "Invalid Undeploy Body")
        }
        guard let application = hosted[undeployment.application] else { return answer(request, 200) }
        if let refusal = await membership.authorize(request, in: application.scope) {
            return answer(request, Self.refusal(refusal).statusCode, refusal.reason)
        }
        guard Self.sameNode(application.deployment.deployer, undeployment.deployer) else {
            return answer(request, 403, "Not The Deployer Of \(undeployment.application)")
        }
        await removeApplication(undeployment.application)
        return answer(request, 200)
    }

    /// A notice for an application this node deployed: kept for `smf apps` and `smf app show`.
    func noticeArrived(_ request: SIPRequest) async -> SIPResponse {
        let notice: ServiceNotice
        do {
            notice = try sdpDecode(ServiceNotice.self, request.eventBody?.bytes ?? [], what: "the notice body")
        } catch {
            return answer(request, 400, "Invalid Notice Body")
        }
        guard let deployment = deployments[notice.application] else { return answer(request, 404, "No Such Application") }
        let scope = ServiceScope(community: deployment.composition.community, subcommunity: deployment.composition.subcommunity)
        if let refusal = await membership.authorize(request, in: scope) { return answer(request, Self.refusal(refusal).statusCode, refusal.reason) }
        do {
            try store.addNotice(notice)
        } catch {
            return answer(request, 500, "Cannot Store The Notice", retryAfter: 1)
        }
        return answer(request, 200)
    }

    /// A PUBLISH, MESSAGE or NOTIFY addressed to an instance: its component answers.
    func directRequestArrived(_ request: SIPRequest, to key: InstanceKey) async -> SIPResponse {
        guard let application = hosted[key.application] else { return answer(request, 404, "No Such Application") }
        guard let instance = instances[key], instance.state == "running" else {
            if let waitingInstance = waiting[key] {
                return answer(request, 480, "Outside Its Time Window", retryAfter: retryAfter(whileWaiting: waitingInstance))
            }
            return answer(request, 480, "Service Instance Not Running", retryAfter: 1)
        }
        var direct = Self.directRequest(request)
        if let refusal = await membership.authorize(request, in: application.scope) {
            guard await instance.component.admitsOutsider(direct) else { return answer(request, Self.refusal(refusal).statusCode, refusal.reason) }
            direct.fromMember = false
        }
        let trace = [
            ServiceHop(
                service: key.service, type: instance.info.serviceType, node: me, action: .request,
                port: [direct.method, direct.eventPackage].compactMap { $0 }.joined(separator: " "), detail: "from \(direct.from)",
                atNanoseconds: clock.now().traceNanoseconds)
        ]
        let reply = await ServiceTracing.$current.withValue(trace) { await instance.component.handle(direct, context: instance.context) }
        return answer(request, reply.statusCode, reply.reason)
    }

    /// What a component sees of a request: method, package, sender, URI, body, `Expires` and `SIP-If-Match`.
    static func directRequest(_ request: SIPRequest) -> ServiceDirectRequest {
        ServiceDirectRequest(
            method: request.method.rawValue, eventPackage: request.headers.event?.package, from: request.headers.from?.uri.description ?? "",
            requestURI: request.uri.description, contentType: request.headers.contentType, body: request.eventBody?.bytes ?? [],
            expires: request.headers.expires, ifMatch: request.headers["SIP-If-Match"])
    }

    // MARK: - Reconciling

    /// Makes this node run what the application's current deployment places on it: instances stop and start (those
    /// outside their time window wait for it), wires are (re)subscribed and producers accept only the current
    /// consumers. With nothing left here, the application is removed.
    func reconcile(_ name: String) async {
        guard isRunning, let application = hosted[name] else { return }
        let mine = application.services(on: me)
        if mine.isEmpty {
            await removeApplication(name)
            return
        }
        for key in Set(instances.keys).union(waiting.keys) where key.application == name && !mine.contains(key.service) {
            await stopInstance(key, forget: true)
        }
        guard let application = hosted[name] else { return }
        var wireIDs = Set<String>()
        for wire in application.composition.wires {
            let id = ServiceAddressing.wireID(wire)
            wireIDs.insert(id)
            let key = WireKey(application: name, wire: id)
            if mine.contains(wire.from.service) { await ensureProducer(key, wire: wire, in: application) } else { removeProducer(key) }
            if mine.contains(wire.to.service) { ensureConsumer(key, wire: wire, in: application) } else { cancelConsumer(key) }
        }
        for key in producers.keys where key.application == name && !wireIDs.contains(key.wire) { removeProducer(key) }
        for key in consumers.keys where key.application == name && !wireIDs.contains(key.wire) { cancelConsumer(key) }
        var windowed = false
        for service in mine.sorted() {
            windowed = windowed || !availability(of: service, in: application).isAlwaysAvailable
            let key = InstanceKey(application: name, service: service)
            guard instances[key] == nil, mayStart(key, in: application) else { continue }
            await startInstance(key)
        }
        if windowed { scheduleAvailabilityChecks() }
        markStatusDirty(name)
    }

    /// Stops the application's instances and wires and deletes everything it kept here.
    func removeApplication(_ name: String) async {
        for key in instances.keys where key.application == name { await stopInstance(key, forget: false) }
        for key in waiting.keys where key.application == name { waiting[key] = nil }
        for key in producers.keys where key.application == name { removeProducer(key) }
        for key in consumers.keys where key.application == name { cancelConsumer(key) }
        for key in outboxes.keys where key.application == name { outboxes[key] = nil }
        for key in portStates.keys where key.application == name { portStates[key] = nil }
        for key in restoredCursors.keys where key.application == name { restoredCursors[key] = nil }
        hosted[name] = nil
        do {
            try store.deleteHostedApplication(named: name)
        } catch {
            logger.warning("cannot delete a hosted application", metadata: ["sdp.app": "\(name)", "sdp.error": "\(error)"])
        }
        try? await endpoint.setState(
            package: ServiceHostStatus.package, resource: ServiceAddressing.applicationURI(application: name, host: configuration.addressOfRecord),
            body: nil)
        logger.info("application removed from this node", metadata: ["sdp.app": "\(name)"])
    }

    /// Makes and starts the component of a service placed here. A failure is shown as the instance's state and
    /// told to the owner.
    func startInstance(_ key: InstanceKey) async {
        guard let application = hosted[key.application], let declaration = application.composition.service(key.service),
            let descriptor = catalog[declaration.type]
        else { return }
        let info = instanceInfo(service: declaration, of: application.deployment, scope: application.scope)
        guard let factory = registry.factory(for: declaration.type) else {
            await failed(key, "no component for type \(declaration.type) on this node")
            return
        }
        let component: any ServiceComponent
        do {
            component = try factory.makeComponent(for: info)
        } catch {
            await failed(key, "cannot be made: \(error)")
            return
        }
        var logger = self.logger
        logger[metadataKey: "sdp.app"] = "\(key.application)"
        logger[metadataKey: "sdp.service"] = "\(key.service)"
        let context = RuntimeServiceContext(
            instance: info, clock: clock, logger: logger,
            sip: EndpointServiceSIP(
                endpoint: endpoint, instanceURI: ServiceAddressing.instanceURI(application: key.application, service: key.service, host: configuration.addressOfRecord),
                logger: logger),
            runtime: self)
        for package in factory.resourcePackages { await hookPackage(package) }
        let seen = factory.durability == .durable ? ((try? store.seenInputs(application: key.application, service: key.service, limit: configuration.inputLogCapacity)) ?? []) : []
        // Started meanwhile (a window opened while the application was reconciled): keep that one.
        guard instances[key] == nil, waiting[key] == nil, hosted[key.application] != nil else { return }
        instances[key] = HostedInstance(
            info: info, component: component, context: context, durability: factory.durability, descriptor: descriptor, state: "starting",
            inputs: ServiceInputLog(capacity: configuration.inputLogCapacity, ids: seen), token: Self.token(using: &generator))
        do {
            try await component.start(context: context)
            instances[key]?.state = "running"
        } catch {
            instances[key]?.state = "failed: \(error)"
            await raiseNotice("service \(key.service) failed to start on \(me): \(error)", application: key.application, service: key.service)
        }
        markStatusDirty(key.application)
    }

    /// What an instance of `service` of `deployment` placed on this node is told about itself.
    func instanceInfo(service declaration: ServiceDeclaration, of deployment: ServiceDeployment, scope: ServiceScope) -> ServiceInstanceInfo {
        ServiceInstanceInfo(
            application: deployment.application, community: scope.community, subcommunity: scope.subcommunity, declaration: declaration,
            uri: ServiceAddressing.instanceURI(application: deployment.application, service: declaration.id, host: configuration.addressOfRecord)
                .description,
            hostAddressOfRecord: me, deployer: deployment.deployer)
    }

    private func failed(_ key: InstanceKey, _ problem: String) async {
        logger.warning("service instance failed", metadata: ["sdp.app": "\(key.application)", "sdp.service": "\(key.service)", "sdp.error": "\(problem)"])
        await raiseNotice("service \(key.service) on \(me) \(problem)", application: key.application, service: key.service)
    }

    /// Stops an instance; with `forget`, what it kept here is deleted (it moved or left the composition).
    func stopInstance(_ key: InstanceKey, forget: Bool) async {
        let wasWaiting = waiting.removeValue(forKey: key) != nil
        guard let instance = instances.removeValue(forKey: key) else {
            if wasWaiting, forget { try? store.deleteInstance(application: key.application, service: key.service) }
            markStatusDirty(key.application)
            return
        }
        await instance.component.stop()
        for port in outboxes.keys where port.application == key.application && port.service == key.service { outboxes[port] = nil }
        if forget {
            do {
                try store.deleteInstance(application: key.application, service: key.service)
            } catch {
                logger.warning("cannot delete an instance's rows", metadata: ["sdp.service": "\(key.service)", "sdp.error": "\(error)"])
            }
        }
        markStatusDirty(key.application)
    }

    static func token(using generator: inout SystemRandomNumberGenerator) -> String {
        String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36)
    }

    // MARK: - Emitting

    /// A value an instance emits on an event output port (``ServiceContext/emit(_:on:)``): it gets its id and
    /// sequence number, goes into the port's outbox — committed first for a durable component — and every wire
    /// of the port whose filters it passes sends it.
    func emit(
        _ value: ServiceValue, on port: String, application: String, service: String, scope: ServiceHandlingScope?, trace: [ServiceHop]? = nil
    ) throws {
        let key = InstanceKey(application: application, service: service)
        guard let instance = instances[key], let hostedApplication = hosted[application] else {
            throw ServicePlatformError(.runtime, "service \(service) of \(application) is not running on this node")
        }
        guard let descriptor = instance.descriptor.output(port) else {
            throw ServicePlatformError(.unknownPort, "service \(service) (\(instance.descriptor.name)) has no output port '\(port)'")
        }
        guard descriptor.delivery == .events else {
            throw ServicePlatformError(.unknownPort, "port \(service).\(port) carries a state: use setState(_:on:)")
        }
        var value = value
        if value.trace.isEmpty {
            value.trace = ServiceHop.extend(
                trace ?? [],
                with: ServiceHop(
                    service: service, type: instance.info.serviceType, node: me, action: .emitted, port: port, atNanoseconds: clock.now().traceNanoseconds))
        }
        let tied = scope.flatMap { $0.application == application && $0.service == service ? $0 : nil }
        if value.id.isEmpty {
            if let tied {
                value.id = derivedValueID(inputID: tied.inputID, service: service, index: tied.nextIndex())
            } else {
                instances[key]?.freshCount += 1
                value.id = "\(application).\(service).\(instance.token).\(instances[key]?.freshCount ?? 0)"
            }
        }
        let wires = hostedApplication.composition.wires.filter { $0.from.service == service && $0.from.port == port }
        guard !wires.isEmpty else { return }  // nobody consumes the port
        let portKey = PortKey(application: application, service: service, port: port)
        var outbox = outboxes[portKey] ?? ServiceOutbox()
        let (sequence, isNew) = outbox.append(value)
        if isNew && instance.durability == .durable {
            do {
                try store.appendOutbox([ServiceOutboxRecord(application: application, service: service, port: port, sequence: sequence, value: value)])
            } catch {
                throw ServicePlatformError(.runtime, "cannot store the value in the outbox of \(service).\(port): \(error)")
            }
        }
        outboxes[portKey] = outbox
        var needs: [AckNeed] = []
        for wire in wires where value.passes(wire.filters) {
            let wireKey = WireKey(application: application, wire: ServiceAddressing.wireID(wire))
            // A relay does not wait for a feedback wire: around a loop it would wait for its own answer.
            if !wire.isFeedback { needs.append(AckNeed(wire: wireKey, sequence: sequence)) }
            producers[wireKey]?.kick?.yield()
        }
        tied?.add(needs)
        markStatusDirty(application, countersOnly: true)
    }

    /// The whole state of a state output port (``ServiceContext/setState(_:on:)``): each wire's resource gets
    /// the values its filters pass, and its subscriber a NOTIFY.
    func setState(_ values: [ServiceValue], on port: String, application: String, service: String) async throws {
        let key = InstanceKey(application: application, service: service)
        guard let instance = instances[key], hosted[application] != nil else {
            throw ServicePlatformError(.runtime, "service \(service) of \(application) is not running on this node")
        }
        guard let descriptor = instance.descriptor.output(port) else {
            throw ServicePlatformError(.unknownPort, "service \(service) (\(instance.descriptor.name)) has no output port '\(port)'")
        }
        guard descriptor.delivery == .state else {
            throw ServicePlatformError(.unknownPort, "port \(service).\(port) carries events: use emit(_:on:)")
        }
        let portKey = PortKey(application: application, service: service, port: port)
        portStates[portKey] = values
        for (wireKey, producer) in producers where producer.port == portKey {
            try await publishState(of: wireKey, producer: producer)
        }
    }

    /// Sets a state wire's resource to the port's state, filtered for the wire.
    func publishState(of key: WireKey, producer: ProducerWire) async throws {
        let values = (portStates[producer.port] ?? []).filter { $0.passes(producer.wire.filters) }
        let batch = ServiceValueBatch(kind: "state", values: values.map { ServiceValueBatch.Entry(sequence: 0, value: $0) })
        let resource = ServiceAddressing.wireResourceURI(
            application: key.application, service: producer.port.service, wire: key.wire, host: configuration.addressOfRecord)
        try await endpoint.setState(package: producer.package, resource: resource, body: SIPEventBody(contentType: ServiceValueBatch.contentType, bytes: batch.bytes))
    }

    // MARK: - Notices

    /// Tells the application's owner: stored here when this node deployed it, else sent to the deployer.
    func raiseNotice(_ text: String, application: String, service: String?) async {
        let notice = ServiceNotice(application: application, service: service, text: text, time: unixTime)
        logger.notice("service notice", metadata: ["sdp.app": "\(application)", "sdp.notice": "\(text)"])
        let deployer = hosted[application]?.deployment.deployer ?? (deployments[application] != nil ? me : nil)
        guard let deployer else { return }
        if Self.sameNode(deployer, me) {
            try? store.addNotice(notice)
            return
        }
        guard let target = SIPURI(deployer) else { return }
        let body = SIPEventBody(contentType: ServiceNotice.contentType, bytes: sdpJSON(notice))
        let endpoint = self.endpoint
        Task { _ = try? await endpoint.sendMessage(to: target, body: body) }
    }

    // MARK: - Status for the deployer

    /// The `smf-app` package: hosts report each application's instances and wires in it, to members of the
    /// application's sub-community.
    func registerStatusPackage() async {
        await endpoint.registerPackage(
            SIPBasicEventPackage(
                name: ServiceHostStatus.package, acceptedContentTypes: [ServiceHostStatus.contentType], minimumNotifyInterval: .milliseconds(200)))
        await endpoint.setSubscribeAdmission(for: ServiceHostStatus.package) { [weak self] request in
            await self?.admitStatusWatch(request)
        }
    }

    func admitStatusWatch(_ request: SIPRequest) async -> SIPRequestRefusal? {
        guard let name = request.uri.user, let application = hosted[name] else { return nil }
        return await membership.authorize(request, in: application.scope).map(Self.refusal)
    }

    /// How soon a host reports a change of an instance's or a wire's state (changes close together go out as one).
    static let statusDelay = Duration.milliseconds(100)
    /// How soon a host reports changed counters only (values acknowledged, received): while values flow, one report
    /// a second instead of one per value keeps the status out of the way of the values themselves.
    static let countersDelay = Duration.seconds(1)

    /// Reports the application's status soon: within ``statusDelay``, or ``countersDelay`` when only the wires'
    /// counters changed.
    func markStatusDirty(_ application: String, countersOnly: Bool = false) {
        guard isRunning else { return }
        if countersOnly {
            guard !statusFlushes.contains(application), counterFlushes.insert(application).inserted else { return }
            Task { [weak self] in
                try? await Task.sleep(for: Self.countersDelay)
                await self?.flushCounters(application)
            }
            return
        }
        guard statusFlushes.insert(application).inserted else { return }
        Task { [weak self] in
            try? await Task.sleep(for: Self.statusDelay)
            await self?.flushStatus(application)
        }
    }

    private func flushCounters(_ name: String) async {
        // Already reported with a state change in the meantime.
        guard counterFlushes.contains(name) else { return }
        await flushStatus(name)
    }

    func flushStatus(_ name: String) async {
        statusFlushes.remove(name)
        counterFlushes.remove(name)
        guard isRunning, let status = await hostStatus(name) else { return }
        let resource = ServiceAddressing.applicationURI(application: name, host: configuration.addressOfRecord)
        do {
            try await endpoint.setState(
                package: ServiceHostStatus.package, resource: resource, body: SIPEventBody(contentType: ServiceHostStatus.contentType, bytes: sdpJSON(status)))
        } catch {
            logger.info("cannot report an application's status", metadata: ["sdp.app": "\(name)", "sdp.error": "\(error)"])
        }
    }

    /// What this node runs of an application.
    func hostStatus(_ name: String) async -> ServiceHostStatus? {
        guard let application = hosted[name] else { return nil }
        var instanceList: [ServiceHostStatus.Instance] = []
        for (key, instance) in instances.sorted(by: { $0.key.service < $1.key.service }) where key.application == name {
            instanceList.append(
                .init(service: key.service, type: instance.descriptor.name, state: instance.state, summary: await instance.component.summary()))
        }
        for (key, instance) in waiting where key.application == name && !instanceList.contains(where: { $0.service == key.service }) {
            instanceList.append(.init(service: key.service, type: instance.type, state: waitingState(instance), summary: nil))
        }
        instanceList.sort { $0.service < $1.service }
        var wires: [ServiceHostStatus.WireEnd] = []
        for (key, producer) in producers.sorted(by: { $0.key.wire < $1.key.wire }) where key.application == name {
            let pending = outboxes[producer.port]?.pendingCount(after: producer.cursor, filters: producer.wire.filters) ?? 0
            let state = producer.subscription != nil ? "active" : (producer.lastProblem ?? "waiting for the consumer")
            wires.append(.init(wire: key.wire, role: "producer", state: state, acknowledged: producer.cursor, pending: pending))
        }
        for (key, consumer) in consumers.sorted(by: { $0.key.wire < $1.key.wire }) where key.application == name {
            wires.append(.init(wire: key.wire, role: "consumer", state: consumer.state, acknowledged: consumer.received, pending: 0))
        }
        return ServiceHostStatus(application: name, revision: application.deployment.revision, instances: instanceList, wires: wires)
    }
}
