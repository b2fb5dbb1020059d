public import ControlChannel
public import Foundation
import Logging
import Overlay
import OverlaySIP
public import ServicePlatform
import SIPEndpoint
import SIPSyntax
import Storage
import Surveillance
import Energy

/// What a node offers the Service Delivery Platform (docs/services.md): the types it provides to `any` placements
/// and the sub-communities it takes part in while it is not in a community.
public struct NodeServiceOptions: Sendable {
    /// Service types this node offers in its scopes (`smf run --offer TYPE`).
    public var offeredTypes: [String] = []
    /// The sub-communities it takes part in (`smf run --scope COMMUNITY/SUB`).
    public var scopes: [ServiceScope] = []
    /// The area the node is in (`smf run --area NAME`: a street, a feeder), for `<where area="…"/>` constraints.
    public var area: String?
    /// The time zone `<time-window>`s are read in (`smf run --time-zone ID`); the machine's by default.
    public var timeZone: TimeZone = .current
    /// How often the deployer probes hosts with OPTIONS, and after how many misses a host is down.
    public var probeInterval: Duration = .seconds(1)
    public var probeFailuresBeforeDown: Int = 2

    public init() {}

    /// Reads a `--scope` value `COMMUNITY/SUB` (the sub-community may itself contain slashes).
    /// - Throws: ``SMFNodeError`` saying what is wrong.
    public static func scope(_ text: String) throws(SMFNodeError) -> ServiceScope {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else {
            throw SMFNodeError(problem: "--scope '\(text)' is not COMMUNITY/SUB-COMMUNITY, e.g. north-street/surveillance/north-street")
        }
        return ServiceScope(community: String(text[..<slash]), subcommunity: String(text[text.index(after: slash)...]))
    }

    /// Checks an `--area` value: a non-empty name without white space (it travels as a line of overlay records).
    /// - Throws: ``SMFNodeError`` saying what is wrong.
    public static func area(_ text: String) throws(SMFNodeError) -> String {
        guard !text.isEmpty, !text.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw SMFNodeError(problem: "--area '\(text)' is not an area name (no spaces), e.g. north-street or feeder-3")
        }
        return text
    }

    /// Reads a `--time-zone` value: an IANA identifier such as `Europe/Berlin` or `UTC`.
    /// - Throws: ``SMFNodeError`` saying what is wrong.
    public static func timeZone(_ text: String) throws(SMFNodeError) -> TimeZone {
        guard let zone = TimeZone(identifier: text) else {
            throw SMFNodeError(problem: "--time-zone '\(text)' is not a time zone identifier, e.g. Europe/Berlin or UTC")
        }
        return zone
    }
}

/// The overlay's records as the service runtime reads and writes them: signed by this node, stored at their owner,
/// in the ring of the community they belong to when the node is a member of it (docs/community.md: each community
/// has its own ring, so two communities never see each other's services), else in the node's default ring.
struct NodeServiceDirectory: ServiceDirectory {
    let overlay: NodeOverlay
    let communities: NodeCommunitySlot

    func put(kind: ResourceRecord.Kind, name: String, value: [UInt8], lifetime: Duration, in community: String) async throws {
        let ring: OverlayNode
        let sequence: UInt64
        if let target = await communities.current?.serviceRing(named: community) {
            (ring, sequence) = target
        } else {
            (ring, sequence) = (overlay.node, await overlay.nextSequence())
        }
        let expiry = await ring.now.advanced(by: lifetime)
        try await ring.put(.signed(kind: kind, name: name, value: value, sequence: sequence, expiry: expiry, by: ring.identity))
    }

    func get(kind: ResourceRecord.Kind, name: String, in community: String) async throws -> [ServiceDirectoryRecord] {
        let ring = await communities.current?.serviceRing(named: community)?.ring ?? overlay.node
        return try await ring.get(name, kind: kind).filter { !$0.isRemoval }.map { ServiceDirectoryRecord(value: $0.value, owner: $0.owner.description) }
    }
}

extension SMFNode {
    /// The service types this node can run, each with the stores it needs in the node's database: the probes, the
    /// building-surveillance services (docs/surveillance.md) and the energy-community services (docs/energy.md), which
    /// share the node's simulated houses (`smf run --energy-households`, NodeEnergy.swift).
    static func serviceRegistry(database: SMFDatabase, energy: NodeEnergyOptions) -> ServiceComponentRegistry {
        let store = SQLiteServiceStore(database: database)
        let probes: [any ServiceComponentFactory] = [ProbeSourceFactory(store: store), ProbeRelayFactory(), ProbeSinkFactory(store: store)]
        let surveillance = SurveillanceComponents.factories(
            readings: SQLiteSensorReadingStore(database: database), state: SQLiteSurveillanceStateStore(database: database),
            alarms: SQLiteAlarmStore(database: database))
        return ServiceComponentRegistry(probes + surveillance + EnergyComponents.factories(houses: energy.houses))
    }

    /// Creates and starts the node's service runtime: it restores what it hosts and deployed, and publishes the
    /// node's overlay records.
    func startServices(database: SMFDatabase, endpoint: SIPEndpoint, overlay: NodeOverlay, aor: SIPURI) async -> ServiceRuntime {
        var configuration = ServiceRuntimeConfiguration(addressOfRecord: aor, nodeName: self.configuration.user)
        configuration.offeredTypes = self.configuration.services.offeredTypes
        configuration.area = self.configuration.services.area
        configuration.timeZone = self.configuration.services.timeZone
        configuration.probeInterval = self.configuration.services.probeInterval
        configuration.probeFailuresBeforeDown = self.configuration.services.probeFailuresBeforeDown
        var logger = self.logger
        logger[metadataKey: "sdp.node"] = "\(self.configuration.user)"
        let runtime = ServiceRuntime(
            configuration: configuration, endpoint: endpoint, transport: transport, registry: Self.serviceRegistry(database: database, energy: self.configuration.energy),
            membership: serviceMembership,
            directory: NodeServiceDirectory(overlay: overlay, communities: communitySlot),
            store: SQLiteServiceStore(database: database),
            clock: ServiceClock(now: { .nanoseconds(Int64(Date().timeIntervalSince1970 * 1e9)) }, sleep: { try await Task.sleep(for: $0) }),
            logger: logger)
        await runtime.start()
        return runtime
    }

    /// Registers `sdp.deploy`, `sdp.apps`, `sdp.app` and `sdp.undeploy` (docs/cli.md).
    func registerServiceCommands() throws(ControlError) {
        let slot = self.runtimeSlot
        @Sendable func services() throws -> ServiceRuntime {
            guard let runtime = slot.current?.services else { throw ControlError(.notRunning, "the node's service runtime has not started") }
            return runtime
        }

        try control.register(
            "sdp.deploy", arguments: DeployArguments.self,
            summary: "deploy a composition: resolve placements, have every host commit its part; answers where each service runs"
        ) { args, _ in
            do {
                return try await services().deploy(composition: args.composition, fileName: args.fileName)
            } catch let error as ServiceDeployError {
                throw ControlError(error.diagnostics.isEmpty ? .deployFailed : .invalidComposition, error.description)
            }
        }

        try control.register("sdp.apps", summary: "the applications this node deployed or runs part of") { _, _ in
            try ControlValue(encoding: await services().applications())
        }

        try control.register("sdp.app", arguments: AppArguments.self, summary: "one application: services, hosts, states, wires") { args, _ in
            guard let view = try await services().application(named: args.name) else {
                throw ControlError(.notFound, "no application '\(args.name)' on this node")
            }
            return view
        }

        try control.register("sdp.undeploy", arguments: AppArguments.self, summary: "remove an application this node deployed from every host") {
            args, _ in
            do {
                return try await services().undeploy(args.name)
            } catch let error as ServicePlatformError {
                throw ControlError(.notFound, error.message)
            }
        }
    }
}

extension ControlError.Code {
    /// A composition given to `sdp.deploy` has problems; the message has one `FILE:LINE:COLUMN: error:` line each.
    public static let invalidComposition = ControlError.Code("sdp.invalid-composition")
    /// A placement could not be resolved or a host refused its part; the message names the service and host.
    public static let deployFailed = ControlError.Code("sdp.deploy-failed")
}

/// `sdp.deploy` arguments: the composition's text and the file name its diagnostics carry.
public struct DeployArguments: Codable, Sendable, Equatable {
    public var composition: String
    public var fileName: String

    public init(composition: String, fileName: String) {
        self.composition = composition
        self.fileName = fileName
    }
}

/// `sdp.app` and `sdp.undeploy` arguments.
public struct AppArguments: Codable, Sendable, Equatable {
    public var name: String

    public init(name: String) { self.name = name }
}

extension NodeRuntime {
    /// Stops the service runtime's instances and tasks (before the endpoint shuts down); what it keeps stays stored.
    func stopServices() async {
        await services.stop()
    }
}
