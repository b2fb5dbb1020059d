// The deployer side of the runtime: deploy, placement resolution, watching hosts, re-resolution, undeploy, and
// the views `smf apps` and `smf app show` print (docs/services.md "How a composition runs").

import Composition
import Foundation
import Logging
import Overlay
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport

/// What `smf deploy` reports: where each service runs.
public struct ServiceDeployReport: Codable, Sendable, Hashable {
    public struct Service: Codable, Sendable, Hashable {
        public var id: String
        public var type: String
        /// As written: `local`, `any`, `peer:NAME`.
        public var placement: String
        /// The address of record of the node it runs on.
        public var host: String
    }

    public var application: String
    public var revision: Int
    public var services: [Service]
}

/// One application as `smf app show` prints it (and, in short, `smf apps`).
public struct ServiceApplicationView: Codable, Sendable, Hashable {
    public struct Service: Codable, Sendable, Hashable {
        public var id: String
        public var type: String
        public var placement: String
        public var host: String
        /// `running`, `starting`, `failed: …`, `waiting: outside its time window until …` (docs/services.md
        /// "Constraints"), `down`, `unknown` (no report yet).
        public var state: String
        public var summary: String?
    }

    public struct Wire: Codable, Sendable, Hashable {
        public var id: String
        /// `service.port`.
        public var from: String
        public var to: String
        /// The consumer's subscription: `active`, `subscribing`, `refused 403`, … (`unknown` without a report).
        public var state: String
        /// The highest sequence number the producer had acknowledged.
        public var acknowledged: UInt64
        /// Values waiting at the producer for the consumer's acknowledgement.
        public var pending: Int
    }

    public var name: String
    /// `deployer` (this node deployed it) or `host` (it only runs part of it).
    public var role: String
    public var revision: Int
    public var deployer: String
    public var community: String
    public var subcommunity: String
    public var services: [Service]
    public var wires: [Wire]
    public var notices: [ServiceNotice]

    /// Whether every wire's consumer holds an active subscription at the current revision and every service runs
    /// or waits for its time window.
    public var allWiresActive: Bool {
        wires.allSatisfy { $0.state == "active" } && services.allSatisfy { $0.state == "running" || $0.state.hasPrefix("waiting") }
    }
}

/// What `smf undeploy` reports.
public struct ServiceUndeployReport: Codable, Sendable, Hashable {
    public var application: String
    /// Hosts that confirmed.
    public var removedFrom: [String]
    /// Hosts that did not, with why (they drop it when they next hear of it).
    public var failures: [String]
}

extension ServiceRuntime {
    // MARK: - Deploy

    /// Deploys a composition (docs/services.md "Deploy"): checks it, resolves every placement, commits the
    /// application and has every host commit its part; on any failure what was deployed is taken back.
    /// Deploying an application this node already deployed replaces it (a new revision).
    /// - Throws: ``ServiceDeployError`` with the composition's diagnostics, or problems naming the service and host.
    public func deploy(composition text: String, fileName: String) async throws(ServiceDeployError) -> ServiceDeployReport {
        let result = CompositionLoader(catalog: catalog).load(bytes: Array(text.utf8), fileName: fileName)
        guard let composition = result.composition, result.isValid else { throw ServiceDeployError(diagnostics: result.diagnostics) }
        let scope = ServiceScope(community: composition.community, subcommunity: composition.subcommunity)
        let scopes = await membership.scopes()
        guard scopes.contains(scope) else {
            throw ServiceDeployError(problems: [
                "\(fileName): this node does not take part in \(scope) (its scopes: \(scopes.isEmpty ? "none" : scopes.map(\.description).joined(separator: ", ")); start it with --scope \(scope))"
            ])
        }
        var placements: [String: String] = [:]
        var problems: [String] = []
        var counts: [String: Int] = [:]
        let down = Set(health.filter(\.value.isDown).map(\.key))
        for service in composition.services {
            do {
                let host = try await resolve(service, in: composition, excluding: down, placedCounts: counts)
                placements[service.id] = host
                counts[host, default: 0] += 1
            } catch {
                problems.append("\(service.location): error: \(error.message)")
            }
        }
        guard problems.isEmpty else { throw ServiceDeployError(problems: problems) }
        let previous = deployments[composition.name]
        let revision = (previous?.record.deployment.revision ?? 0) + 1
        let deployment = ServiceDeployment(
            application: composition.name, revision: revision, deployer: me, fileName: fileName, composition: text, placements: placements)
        let oldHosts = Set(previous?.record.deployment.placements.values.map { $0 } ?? []).union(previous?.record.retiredHosts ?? [])
        let newHosts = Set(placements.values)
        let record = DeployedApplication(
            deployment: deployment, placementRules: Dictionary(uniqueKeysWithValues: composition.services.map { ($0.id, $0.placement.description) }),
            retiredHosts: oldHosts.filter { old in !newHosts.contains { Self.sameNode($0, old) } }.sorted(), deployedAt: previous?.record.deployedAt ?? unixTime)
        do {
            try store.saveDeployedApplication(record)
        } catch {
            throw ServiceDeployError(problems: ["cannot store the application: \(error)"])
        }
        var entry = previous ?? Deployment(record: record, composition: composition)
        entry.record = record
        entry.composition = composition
        entry.statuses = [:]
        deployments[composition.name] = entry
        let answers = await send(deployment, to: newHosts.sorted())
        var failures: [String] = []
        for (host, outcome) in answers {
            guard let problem = outcome else {
                deployments[composition.name]?.lastSent[host] = ContinuousClock.now
                continue
            }
            for service in composition.services where placements[service.id].map({ Self.sameNode($0, host) }) == true {
                failures.append("\(service.location): error: service \(service.id) (\(service.type)) on \(host) failed: \(problem)")
            }
        }
        guard failures.isEmpty else {
            let accepted = answers.filter { $0.1 == nil }.map(\.0)
            _ = await sendUndeploy(composition.name, to: accepted)
            deployments[composition.name] = nil
            try? store.deleteDeployedApplication(named: composition.name)
            throw ServiceDeployError(problems: failures.sorted())
        }
        updateWatches(composition.name)
        await publishApplicationRecord(composition.name)
        logger.info("application deployed", metadata: ["sdp.app": "\(composition.name)", "sdp.revision": "\(revision)", "sdp.placements": "\(placements)"])
        return ServiceDeployReport(
            application: composition.name, revision: revision,
            services: composition.services.map {
                ServiceDeployReport.Service(id: $0.id, type: $0.type, placement: $0.placement.description, host: placements[$0.id] ?? "")
            })
    }

    /// Where a service runs: this node, the named peer, or a live provider of its type; each only where the
    /// composition's `<where>` constraints allow (docs/services.md "Constraints").
    func resolve(
        _ service: ServiceDeclaration, in composition: Composition, excluding excluded: Set<String>, placedCounts: [String: Int]
    ) async throws(ServicePlatformError) -> String {
        let scope = ServiceScope(community: composition.community, subcommunity: composition.subcommunity)
        let places = ServicePlaces(service: service.id, constraints: composition.constraints)
        switch service.placement {
        case .local:
            try check(service, placedOn: configuration.nodeName, me, area: configuration.area, against: places)
            return me
        case .peer(let name):
            if name.hasPrefix("sip:") || name.hasPrefix("sips:") {
                guard let uri = SIPURI(name), !uri.host.isEmpty else {
                    throw ServicePlatformError(.unresolved, "service \(service.id): '\(name)' is not a SIP URI with a host")
                }
                if !places.isUnconstrained {
                    let peerName = uri.user ?? uri.host
                    // The area of a node named by its URI is the one its node record declares.
                    var area: String?
                    if places.namesAnArea, let found = try await nodeRecord(named: peerName, in: scope, for: service),
                        Self.sameNode(found.addressOfRecord.description, uri.description)
                    {
                        area = found.area
                    }
                    try check(service, placedOn: peerName, uri.description, area: area, against: places)
                }
                return uri.description
            }
            if name == configuration.nodeName {
                try check(service, placedOn: name, me, area: configuration.area, against: places)
                return me
            }
            guard let found = try await nodeRecord(named: name, in: scope, for: service) else {
                throw ServicePlatformError(
                    .unresolved,
                    "service \(service.id): no node named \(name) in community \(scope.community) (overlay record \(ServiceRecordNames.node(community: scope.community, name: name)))")
            }
            try check(service, placedOn: name, found.addressOfRecord.description, area: found.area, against: places)
            return found.addressOfRecord.description
        case .any:
            let recordName = ServiceRecordNames.providers(scope, type: service.type)
            let records: [ServiceDirectoryRecord]
            do {
                records = try await directory.get(kind: .service, name: recordName, in: scope.community)
            } catch {
                throw ServicePlatformError(.unresolved, "service \(service.id): cannot look up providers of \(service.type) in the overlay: \(error)")
            }
            let found = records.compactMap { ServiceProviderValue.decode($0.value) }.filter { candidate in !excluded.contains { Self.sameNode($0, candidate.host) } }
            let candidates = found.filter { candidate in
                places.violation(name: SIPURI(candidate.host)?.user ?? candidate.host, addressOfRecord: candidate.host, area: candidate.area) == nil
            }
            let live = await probe(Set(candidates.map(\.host)))
            guard let host = ServicePlacementChooser.choose(from: candidates, live: live, placedCounts: placedCounts) else {
                let allowed = places.isUnconstrained ? "" : ", \(candidates.count) of them allowed by \(places.constraints.map(ServicePlaces.describe).joined(separator: " and "))"
                throw ServicePlatformError(
                    .unresolved,
                    "service \(service.id): no live provider of type \(service.type) in \(scope) (\(found.count) found in the overlay\(allowed), \(live.count) answered OPTIONS)")
            }
            return host
        }
    }

    /// The node record `node:<community>:<name>`: the node's address of record and declared area; nil when there is none.
    private func nodeRecord(
        named name: String, in scope: ServiceScope, for service: ServiceDeclaration
    ) async throws(ServicePlatformError) -> (addressOfRecord: SIPURI, area: String?)? {
        let recordName = ServiceRecordNames.node(community: scope.community, name: name)
        let records: [ServiceDirectoryRecord]
        do {
            records = try await directory.get(kind: .generic, name: recordName, in: scope.community)
        } catch {
            throw ServicePlatformError(.unresolved, "service \(service.id): cannot look up peer \(name) in the overlay: \(error)")
        }
        return records.lazy.compactMap { ServiceNodeValue.decode($0.value) }.first
    }

    /// Throws when the node a `local` or `peer:` placement names is not where the service's `<where>` constraints allow.
    private func check(
        _ service: ServiceDeclaration, placedOn name: String, _ addressOfRecord: String, area: String?, against places: ServicePlaces
    ) throws(ServicePlatformError) {
        guard let violated = places.violation(name: name, addressOfRecord: addressOfRecord, area: area) else { return }
        throw ServicePlatformError(
            .unresolved,
            "service \(service.id): placement \(service.placement) violates \(ServicePlaces.describe(violated)): it names \(ServicePlaces.describe(node: name, area: area))")
    }

    // MARK: - Messages to hosts

    /// Sends a deployment to hosts at once; returns each host's problem (nil: it committed).
    func send(_ deployment: ServiceDeployment, to hosts: [String]) async -> [(String, String?)] {
        let body = SIPEventBody(contentType: ServiceDeployment.contentType, bytes: sdpJSON(deployment))
        return await message(body, to: hosts)
    }

    func sendUndeploy(_ application: String, to hosts: [String]) async -> [(String, String?)] {
        let body = SIPEventBody(contentType: ServiceUndeployment.contentType, bytes: sdpJSON(ServiceUndeployment(application: application, deployer: me)))
        return await message(body, to: hosts)
    }

    private func message(_ body: SIPEventBody, to hosts: [String]) async -> [(String, String?)] {
        let endpoint = self.endpoint
        return await withTaskGroup(of: (String, String?).self) { group in
            for host in hosts {
                group.addTask {
                    guard let uri = SIPURI(host) else { return (host, "'\(host)' is not a SIP URI") }
                    do {
                        switch try await endpoint.sendMessage(to: uri, body: body) {
                        case .delivered: return (host, nil)
                        case .rejected(let statusCode, let reason): return (host, "\(statusCode) \(reason)")
                        case .timedOut: return (host, "no answer")
                        }
                    } catch {
                        return (host, "\(error)")
                    }
                }
            }
            var answers: [(String, String?)] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }
        }
    }

    // MARK: - Probing

    /// The hosts among `hosts` that answer an OPTIONS within the probe timeout (any final response counts).
    func probe(_ hosts: Set<String>) async -> Set<String> {
        let transport = self.transport
        let timeout = configuration.probeTimeout
        let from = configuration.addressOfRecord
        var requests: [(String, SIPRequest, SIPDestination)] = []
        for host in hosts {
            guard let uri = SIPURI(host), let destination = Self.destination(of: uri) else { continue }
            requests.append((host, Self.options(to: uri, from: from, using: &generator), destination))
        }
        return await withTaskGroup(of: (String, Bool).self) { group in
            for (host, request, destination) in requests {
                group.addTask {
                    let alive = await withTaskGroup(of: Bool.self) { race in
                        race.addTask { (try? await transport.send(request, to: destination)) != nil }
                        race.addTask {
                            try? await Task.sleep(for: timeout)
                            return false
                        }
                        let first = await race.next() ?? false
                        race.cancelAll()
                        return first
                    }
                    return (host, alive)
                }
            }
            var live = Set<String>()
            for await (host, alive) in group where alive { live.insert(host) }
            return live
        }
    }

    /// An OPTIONS to a node (RFC 3261 §11): any answer means it is alive.
    static func options(to target: SIPURI, from: SIPURI, using generator: inout SystemRandomNumberGenerator) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Max-Forwards", value: "70")
        headers.to = SIPNameAddress(uri: target)
        headers.from = SIPNameAddress(uri: from, parameters: [("tag", SIPEventMessages.token(using: &generator))])
        headers.callID = SIPEventMessages.token(length: 20, using: &generator)
        headers.cseq = SIPCSeq(sequence: 1, method: .options)
        headers.contentLength = 0
        return SIPRequest(method: .options, uri: target, headers: headers)
    }

    static func destination(of uri: SIPURI) -> SIPDestination? {
        guard uri.isSIP, !uri.host.isEmpty else { return nil }
        let transport = uri.transport.flatMap(SIPTransportProtocol.init(token:)) ?? .udp
        return SIPDestination(transport: transport, host: uri.maddr ?? uri.hostWithoutBrackets, port: uri.port ?? 5060)
    }

    /// Probes every host of the applications this node deployed, forever: a host that misses
    /// ``ServiceRuntimeConfiguration/probeFailuresBeforeDown`` probes in a row is down (its `any` services move),
    /// one that answers again is back; hosts that do not report the current revision get it again.
    func probeForever() async {
        while !Task.isCancelled {
            await probeRound()
            guard await pause(configuration.probeInterval) else { return }
        }
    }

    func probeRound() async {
        var hosts = Set<String>()
        for (_, deployment) in deployments {
            hosts.formUnion(deployment.record.deployment.placements.values)
            hosts.formUnion(deployment.record.retiredHosts)
        }
        guard !hosts.isEmpty else { return }
        let live = await probe(hosts)
        for host in hosts.sorted() {
            var state = health[host] ?? HostHealth()
            if live.contains(host) {
                state.failures = 0
                if state.isDown {
                    state.isDown = false
                    health[host] = state
                    await hostCameBack(host)
                    continue
                }
            } else {
                state.failures += 1
                if !state.isDown && state.failures >= configuration.probeFailuresBeforeDown {
                    state.isDown = true
                    health[host] = state
                    await hostWentDown(host)
                    continue
                }
            }
            health[host] = state
        }
        await resendWhereStale(live: live)
    }

    /// Sends the current revision again to live hosts that do not report it (they restarted, missed it, or no
    /// longer run anything of it and must drop it).
    func resendWhereStale(live: Set<String>) async {
        let now = ContinuousClock.now
        for name in deployments.keys.sorted() {
            guard let deployment = deployments[name] else { continue }
            let current = deployment.record.deployment
            var targets: [String] = []
            for host in Set(current.placements.values).union(deployment.record.retiredHosts) where live.contains(host) {
                let retired = deployment.record.retiredHosts.contains(host)
                let reported = deployment.statuses[host]?.revision
                guard retired || reported != current.revision else { continue }
                if let last = deployment.lastSent[host], now - last < configuration.resendInterval { continue }
                deployments[name]?.lastSent[host] = now
                targets.append(host)
            }
            guard !targets.isEmpty else { continue }
            Task { [weak self] in
                guard let self else { return }
                let answers = await self.send(current, to: targets)
                await self.resent(name, revision: current.revision, answers: answers)
            }
        }
    }

    func resent(_ name: String, revision: Int, answers: [(String, String?)]) {
        guard var deployment = deployments[name], deployment.record.deployment.revision == revision else { return }
        let confirmed = Set(answers.filter { $0.1 == nil }.map(\.0))
        let remaining = deployment.record.retiredHosts.filter { !confirmed.contains($0) }
        guard remaining != deployment.record.retiredHosts else { return }
        deployment.record.retiredHosts = remaining
        deployments[name] = deployment
        try? store.saveDeployedApplication(deployment.record)
    }

    /// A host stopped answering: its `any` services move to another live provider (a new revision to every host);
    /// the owner is told either way.
    func hostWentDown(_ host: String) async {
        logger.notice("host down", metadata: ["sdp.host": "\(host)"])
        let down = Set(health.filter(\.value.isDown).map(\.key))
        for name in deployments.keys.sorted() {
            guard let deployment = deployments[name] else { continue }
            let affected = deployment.record.deployment.placements.filter { Self.sameNode($0.value, host) }.map(\.key).sorted()
            guard !affected.isEmpty else { continue }
            var moves: [String: String] = [:]
            for serviceID in affected {
                guard let service = deployment.composition.service(serviceID) else { continue }
                guard service.placement == .any else {
                    note(name, serviceID, "service \(serviceID) is down with its node \(host) (placement \(service.placement)); waiting for the node to return")
                    continue
                }
                var counts: [String: Int] = [:]
                for placed in deployment.record.deployment.placements.values { counts[placed, default: 0] += 1 }
                do {
                    let replacement = try await resolve(service, in: deployment.composition, excluding: down.union([host]), placedCounts: counts)
                    moves[serviceID] = replacement
                    note(name, serviceID, "service \(serviceID) is down with its node \(host); moved to \(replacement)")
                } catch {
                    let why = error.message.replacingOccurrences(of: "service \(serviceID): ", with: "")
                    note(name, serviceID, "service \(serviceID) is down with its node \(host); it stays there until another provider is found (\(why))")
                }
            }
            guard !moves.isEmpty, var current = deployments[name] else { continue }
            var deploymentValue = current.record.deployment
            for (serviceID, replacement) in moves where deploymentValue.placements[serviceID].map({ Self.sameNode($0, host) }) == true {
                deploymentValue.placements[serviceID] = replacement
            }
            deploymentValue.revision += 1
            current.record.deployment = deploymentValue
            if !deploymentValue.placements.values.contains(where: { Self.sameNode($0, host) }), !current.record.retiredHosts.contains(host) {
                current.record.retiredHosts.append(host)
            }
            do {
                try store.saveDeployedApplication(current.record)
            } catch {
                logger.warning("cannot store a new revision", metadata: ["sdp.app": "\(name)", "sdp.error": "\(error)"])
                continue
            }
            current.lastSent = [:]
            deployments[name] = current
            updateWatches(name)
            await publishApplicationRecord(name)
            logger.notice("application re-placed", metadata: ["sdp.app": "\(name)", "sdp.revision": "\(deploymentValue.revision)", "sdp.moves": "\(moves)"])
            let live = Set(deploymentValue.placements.values).filter { target in !down.contains { Self.sameNode($0, target) } }
            let revision = deploymentValue.revision
            Task { [weak self] in
                guard let self else { return }
                let answers = await self.send(deploymentValue, to: live.sorted())
                await self.sentRevision(name, revision: revision, answers: answers)
            }
        }
    }

    func sentRevision(_ name: String, revision: Int, answers: [(String, String?)]) {
        guard deployments[name]?.record.deployment.revision == revision else { return }
        let now = ContinuousClock.now
        for (host, problem) in answers where problem == nil { deployments[name]?.lastSent[host] = now }
    }

    func hostCameBack(_ host: String) async {
        logger.notice("host back", metadata: ["sdp.host": "\(host)"])
        for name in deployments.keys.sorted() {
            guard let deployment = deployments[name] else { continue }
            for (serviceID, placed) in deployment.record.deployment.placements.sorted(by: { $0.key < $1.key }) where Self.sameNode(placed, host) {
                note(name, serviceID, "service \(serviceID): its node \(host) answers again")
            }
        }
    }

    /// Keeps a notice for the owner (this node).
    func note(_ application: String, _ service: String?, _ text: String) {
        logger.notice("service notice", metadata: ["sdp.app": "\(application)", "sdp.notice": "\(text)"])
        try? store.addNotice(ServiceNotice(application: application, service: service, text: text, time: unixTime))
    }

    // MARK: - Watching

    /// Subscribes to the `smf-app` status of every host of the application (and ends the watches of hosts it
    /// left).
    func updateWatches(_ name: String) {
        guard var deployment = deployments[name] else { return }
        let hosts = Set(deployment.record.deployment.placements.values)
        for (host, task) in deployment.watches where !hosts.contains(host) {
            task.cancel()
            deployment.watches[host] = nil
            deployment.statuses[host] = nil
        }
        for host in hosts where deployment.watches[host] == nil {
            deployment.watches[host] = Task { [weak self] in _ = await self?.watch(name, host: host) }
        }
        deployments[name] = deployment
    }

    func watch(_ name: String, host: String) async {
        guard let uri = SIPURI(host) else { return }
        let target = ServiceAddressing.applicationURI(application: name, host: uri)
        while !Task.isCancelled, deployments[name] != nil {
            let handle: SIPSubscriptionHandle
            do {
                handle = try await endpoint.subscribe(
                    to: target, event: SIPEventHeader(package: ServiceHostStatus.package), expires: configuration.wireExpires,
                    accept: [ServiceHostStatus.contentType], retryDelay: configuration.retryDelay
                ) { [weak self] notification, _ in
                    await self?.statusArrived(name, host: host, notification)
                    return nil
                }
            } catch {
                guard await pause(configuration.retryDelay) else { return }
                continue
            }
            await withTaskCancellationHandler {
                for await _ in handle.updates {}
            } onCancel: { [endpoint] in
                Task { await endpoint.unsubscribe(handle) }
            }
            guard await pause(configuration.retryDelay) else { return }
        }
    }

    func statusArrived(_ name: String, host: String, _ notification: SIPSubscriberNotification) {
        guard deployments[name] != nil else { return }
        guard let body = notification.body, let status = try? sdpDecode(ServiceHostStatus.self, body.bytes, what: "a host status") else {
            deployments[name]?.statuses[host] = nil
            return
        }
        deployments[name]?.statuses[host] = status
    }

    // MARK: - Undeploy

    /// Removes an application this node deployed from every host (docs/services.md "Undeploy").
    /// - Throws: ``ServicePlatformError`` when this node did not deploy it.
    public func undeploy(_ name: String) async throws(ServicePlatformError) -> ServiceUndeployReport {
        guard let deployment = deployments.removeValue(forKey: name) else {
            let known = deployments.keys.sorted()
            throw ServicePlatformError(.runtime, "no application '\(name)' deployed by this node (deployed: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        for (_, task) in deployment.watches { task.cancel() }
        let hosts = Set(deployment.record.deployment.placements.values).union(deployment.record.retiredHosts)
        // Hosts known to be down are not waited for (a MESSAGE to them would only time out).
        let down = hosts.filter { health[$0]?.isDown == true }
        let answers = await sendUndeploy(name, to: hosts.subtracting(down).sorted()) + down.sorted().map { ($0, "its node is down") }
        do {
            try store.deleteDeployedApplication(named: name)
        } catch {
            logger.warning("cannot delete an application", metadata: ["sdp.app": "\(name)", "sdp.error": "\(error)"])
        }
        logger.info("application undeployed", metadata: ["sdp.app": "\(name)"])
        return ServiceUndeployReport(
            application: name, removedFrom: answers.filter { $0.1 == nil }.map(\.0), failures: answers.compactMap { answer in answer.1.map { "\(answer.0): \($0)" } })
    }

    // MARK: - Views

    /// Every application this node deployed or hosts part of.
    public func applications() async -> [ServiceApplicationView] {
        var views: [ServiceApplicationView] = []
        for name in Set(deployments.keys).union(hosted.keys).sorted() {
            if let view = await application(named: name) { views.append(view) }
        }
        return views
    }

    /// One application: each service with its host and state, each wire with its subscription and values.
    public func application(named name: String) async -> ServiceApplicationView? {
        if let deployment = deployments[name] {
            let placements = deployment.record.deployment.placements
            var statuses = deployment.statuses
            // This node's own part is known first hand.
            for host in Set(placements.values) where Self.sameNode(host, me) {
                if let own = await hostStatus(name) { statuses[host] = own }
            }
            let revision = deployment.record.deployment.revision
            let services = deployment.composition.services.map { service -> ServiceApplicationView.Service in
                let host = placements[service.id] ?? ""
                let instance = statuses[host].flatMap { $0.revision == revision ? $0 : nil }?.instances.first { $0.service == service.id }
                let state = health[host]?.isDown == true ? "down" : (instance?.state ?? "unknown")
                return .init(id: service.id, type: service.type, placement: service.placement.description, host: host, state: state, summary: instance?.summary)
            }
            let wires = deployment.composition.wires.map { wire -> ServiceApplicationView.Wire in
                let id = ServiceAddressing.wireID(wire)
                let producer = statuses[placements[wire.from.service] ?? ""].flatMap { $0.revision == revision ? $0 : nil }?.wires
                    .first { $0.wire == id && $0.role == "producer" }
                let consumer = statuses[placements[wire.to.service] ?? ""].flatMap { $0.revision == revision ? $0 : nil }?.wires
                    .first { $0.wire == id && $0.role == "consumer" }
                let consumerDown = health[placements[wire.to.service] ?? ""]?.isDown == true
                return .init(
                    id: id, from: wire.from.description, to: wire.to.description,
                    state: consumerDown ? "down (consumer's node)" : consumer?.state ?? "unknown", acknowledged: producer?.acknowledged ?? 0,
                    pending: producer?.pending ?? 0)
            }
            return ServiceApplicationView(
                name: name, role: "deployer", revision: revision, deployer: me, community: deployment.composition.community,
                subcommunity: deployment.composition.subcommunity, services: services, wires: wires,
                notices: (try? store.notices(application: name, limit: 50)) ?? [])
        }
        guard let application = hosted[name], let status = await hostStatus(name) else { return nil }
        let services = status.instances.map {
            ServiceApplicationView.Service(
                id: $0.service, type: $0.type, placement: application.composition.service($0.service)?.placement.description ?? "", host: me,
                state: $0.state, summary: $0.summary)
        }
        let wires = application.composition.wires.compactMap { wire -> ServiceApplicationView.Wire? in
            let id = ServiceAddressing.wireID(wire)
            let ends = status.wires.filter { $0.wire == id }
            guard !ends.isEmpty else { return nil }
            let producer = ends.first { $0.role == "producer" }
            let consumer = ends.first { $0.role == "consumer" }
            return .init(
                id: id, from: wire.from.description, to: wire.to.description, state: consumer?.state ?? producer?.state ?? "unknown",
                acknowledged: producer?.acknowledged ?? consumer?.acknowledged ?? 0, pending: producer?.pending ?? 0)
        }
        return ServiceApplicationView(
            name: name, role: "host", revision: application.deployment.revision, deployer: application.deployment.deployer,
            community: application.scope.community, subcommunity: application.scope.subcommunity, services: services, wires: wires, notices: [])
    }

    // MARK: - Overlay records

    /// Stores the node's `node:` record in each community (its address of record, then its area) and a provider record
    /// (contact, capacity, area) per offered type and scope, again
    /// every half lifetime (every few seconds while the overlay refuses them, e.g. before the node joined), and at
    /// once when the node's scopes change (it joined or left a sub-community).
    ///
    /// After a change of scopes the records are stored again 2, 4, 8, … seconds later (up to the half lifetime): a
    /// ring that is still forming as members join may move a record's owner before it has replicated it.
    func publishRecordsForever() async {
        var publishedScopes: [ServiceScope]?
        var nextRefresh = clock.now()
        var interval = configuration.retryDelay * 2
        while !Task.isCancelled {
            let scopes = await membership.scopes()
            if scopes != publishedScopes { interval = configuration.retryDelay * 2 }
            if scopes != publishedScopes || clock.now() >= nextRefresh {
                let published = await publishRecords()
                publishedScopes = published ? scopes : nil
                nextRefresh = clock.now() + (published ? interval : configuration.retryDelay * 2)
                if published { interval = min(interval * 2, configuration.recordLifetime / 2) }
            }
            guard await pause(configuration.retryDelay * 2) else { return }
        }
    }

    /// Returns whether every record was stored.
    func publishRecords() async -> Bool {
        let scopes = await membership.scopes()
        var ok = true
        for community in Set(scopes.map(\.community)).sorted() {
            do {
                try await directory.put(
                    kind: .generic, name: ServiceRecordNames.node(community: community, name: configuration.nodeName),
                    value: ServiceNodeValue.encode(addressOfRecord: me, area: configuration.area),
                    lifetime: configuration.recordLifetime, in: community)
            } catch {
                ok = false
            }
        }
        let capacity = max(0, configuration.capacity - instances.count)
        for scope in scopes {
            for type in configuration.offeredTypes where registry.factory(for: type) != nil {
                do {
                    try await directory.put(
                        kind: .service, name: ServiceRecordNames.providers(scope, type: type),
                        value: ServiceProviderValue.encode(contact: me, capacity: capacity, area: configuration.area),
                        lifetime: configuration.recordLifetime,
                        in: scope.community)
                } catch {
                    ok = false
                }
            }
        }
        for name in deployments.keys.sorted() where !(await publishApplicationRecord(name)) { ok = false }
        if !ok { logger.debug("some overlay records could not be stored yet; trying again soon") }
        return ok
    }

    // MARK: - Where an application runs

    /// The application record of an application this node deployed (``ServiceApplicationRecord``).
    func applicationRecord(_ name: String) -> ServiceApplicationRecord? {
        guard let deployment = deployments[name] else { return nil }
        return Self.applicationRecord(deployment.record.deployment, composition: deployment.composition)
    }

    static func applicationRecord(_ deployment: ServiceDeployment, composition: Composition) -> ServiceApplicationRecord {
        var services: [String: ServiceApplicationRecord.Service] = [:]
        for service in composition.services {
            guard let host = deployment.placements[service.id].flatMap(SIPURI.init) else { continue }
            services[service.id] = .init(
                type: service.type, uri: ServiceAddressing.instanceURI(application: deployment.application, service: service.id, host: host).description)
        }
        return ServiceApplicationRecord(
            application: deployment.application, revision: deployment.revision, community: composition.community,
            subcommunity: composition.subcommunity, services: services)
    }

    /// Stores where the application's services run in its community's overlay, for members that run none of it;
    /// returns whether it was stored.
    @discardableResult
    func publishApplicationRecord(_ name: String) async -> Bool {
        guard let record = applicationRecord(name) else { return true }
        do {
            try await directory.put(
                kind: .generic, name: ServiceApplicationRecord.name(community: record.community, application: name), value: sdpJSON(record),
                lifetime: configuration.recordLifetime, in: record.community)
            return true
        } catch {
            logger.debug("the application record could not be stored yet", metadata: ["sdp.app": "\(name)", "sdp.error": "\(error)"])
            return false
        }
    }

    /// Where application `name` runs: from this node's own deployment or hosted part when it has one, else from the
    /// newest application record in the overlay of its scopes' communities. Nil when none is found.
    public func locate(application name: String) async -> ServiceApplicationRecord? {
        if let record = applicationRecord(name) { return record }
        if let hostedApplication = hosted[name] {
            return Self.applicationRecord(hostedApplication.deployment, composition: hostedApplication.composition)
        }
        var best: ServiceApplicationRecord?
        for community in Set(await membership.scopes().map(\.community)).sorted() {
            let records = (try? await directory.get(kind: .generic, name: ServiceApplicationRecord.name(community: community, application: name), in: community)) ?? []
            for record in records {
                guard let decoded = try? sdpDecode(ServiceApplicationRecord.self, record.value, what: "an application record") else { continue }
                if decoded.revision > best?.revision ?? 0 { best = decoded }
            }
        }
        return best
    }
}
