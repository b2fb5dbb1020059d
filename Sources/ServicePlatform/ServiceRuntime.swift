// The Service Delivery Platform runtime of one node (seed 000 §IV, issue 6). See docs/services.md.

public import Composition
public import Foundation
public import Logging
public import SIPEndpoint
import SIPEvents
public import SIPSyntax
public import SIPTransport

/// The runtime's settings; the defaults suit a node on a LAN.
public struct ServiceRuntimeConfiguration: Sendable {
    /// The node's address of record, `sip:USER@HOST:PORT`: instances are `sip:<app>.<service>@HOST:PORT`.
    public var addressOfRecord: SIPURI
    /// The node's name in its communities (`smf run --user`): `peer:NAME` placements find it by this.
    public var nodeName: String
    /// The service types this node offers to `any` placements in its scopes (`smf run --offer`).
    public var offeredTypes: [String] = []
    /// The capacity advertised with each offered type, less the instances the node runs.
    public var capacity: Int = 100
    /// The area the node is in (a street, a feeder; `smf run --area`), nil for none: it travels with the node's
    /// overlay records, and `<where area="…"/>` constraints place services by it.
    public var area: String?
    /// The zone the `<time-window>`s of the services this node hosts are read in (the node's local time).
    public var timeZone: TimeZone = .current
    /// How often the runtime looks at its windowed instances at the latest, even when no window opens or closes
    /// sooner (so a clock that jumps, as in tests, is noticed).
    public var availabilityCheckInterval: Duration = .seconds(60)
    /// The largest Retry-After, in seconds, with which an instance outside its time window refuses inputs (it
    /// says the seconds until it opens, at most this).
    public var waitingRetryAfterLimit: Int = 60
    /// How long overlay records live; they are stored again every half lifetime.
    public var recordLifetime: Duration = .seconds(600)
    /// How often the deployer probes the hosts of its applications with OPTIONS.
    public var probeInterval: Duration = .seconds(1)
    /// How long a probe waits for an answer.
    public var probeTimeout: Duration = .milliseconds(800)
    /// Unanswered probes in a row after which a host counts as down.
    public var probeFailuresBeforeDown: Int = 2
    /// How long a relay waits for its consumers to acknowledge what it emitted before it answers its producer
    /// 500 with Retry-After (the producer then sends the values again).
    public var relayTimeout: Duration = .seconds(8)
    /// Expires of the wires' subscriptions, in seconds.
    public var wireExpires: Int = 600
    /// Values per NOTIFY at most.
    public var batchLimit: Int = 64
    /// Wait before subscribing or sending again after a failure.
    public var retryDelay: Duration = .seconds(1)
    /// How often a deploy MESSAGE is sent again to a host that does not report the current revision.
    public var resendInterval: Duration = .seconds(3)
    /// Input ids kept per instance to drop duplicates.
    public var inputLogCapacity: Int = 4096

    public init(addressOfRecord: SIPURI, nodeName: String) {
        self.addressOfRecord = addressOfRecord
        self.nodeName = nodeName
    }
}

/// Deploying an application failed: every problem of the composition (with file, line and column), or what
/// went wrong with a placement or a host.
public struct ServiceDeployError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The composition's problems, when it is invalid.
    public var diagnostics: [CompositionDiagnostic]
    /// What went wrong otherwise (one line per problem), naming the service and host.
    public var problems: [String]

    public init(diagnostics: [CompositionDiagnostic] = [], problems: [String] = []) {
        self.diagnostics = diagnostics
        self.problems = problems
    }

    public var description: String { (diagnostics.map(\.description) + problems).joined(separator: "\n") }
}

/// The runtime of one node: deploys compositions (as their deployer), runs the instances placed on this node (as
/// a host), keeps their wires — SIP subscriptions between instances — and restores all of it after a restart.
///
/// An actor. It uses the node's ``SIPEndpoint`` for subscriptions, NOTIFYs and MESSAGEs, the transport for OPTIONS
/// probes, a ``ServiceDirectory`` for the overlay's records and a ``ServiceRuntimeStore`` for what must survive a
/// restart. Requests for it (deploy MESSAGEs, direct requests to instances) reach ``handle(_:)``, which the node's
/// request router calls before the UA core.
public actor ServiceRuntime {
    public nonisolated let configuration: ServiceRuntimeConfiguration
    let endpoint: SIPEndpoint
    let transport: SIPTransport
    let registry: ServiceComponentRegistry
    let catalog: ServiceTypeCatalog
    let membership: any ServiceMembership
    let directory: any ServiceDirectory
    let store: any ServiceRuntimeStore
    let clock: ServiceClock
    let logger: Logger
    var generator = SystemRandomNumberGenerator()

    // MARK: Host side

    /// A composition this node hosts part of.
    struct HostedApplication {
        var deployment: ServiceDeployment
        var composition: Composition
        var scope: ServiceScope

        /// The services placed on the node `me`.
        func services(on me: String) -> Set<String> {
            Set(deployment.placements.filter { ServiceRuntime.sameNode($0.value, me) }.map(\.key))
        }

        func wire(_ id: String) -> Wire? { composition.wires.first { ServiceAddressing.wireID($0) == id } }

        func host(of service: String) -> SIPURI? { deployment.placements[service].flatMap(SIPURI.init) }
    }

    struct InstanceKey: Hashable, Sendable {
        let application: String
        let service: String
    }

    struct WireKey: Hashable, Sendable {
        let application: String
        let wire: String
    }

    struct PortKey: Hashable, Sendable {
        let application: String
        let service: String
        let port: String
    }

    /// A running instance.
    struct HostedInstance {
        let info: ServiceInstanceInfo
        let component: any ServiceComponent
        let context: RuntimeServiceContext
        let durability: ServiceDurability
        let descriptor: ServiceTypeDescriptor
        var state: String
        var inputs: ServiceInputLog
        let token: String
        var freshCount: UInt64 = 0
    }

    /// An instance outside its time window (docs/services.md "Constraints").
    struct WaitingInstance {
        let type: String
        /// When its window opens (nil: never, as far as the next week goes).
        var until: Duration?
    }

    /// The producing end of a wire on this node.
    struct ProducerWire {
        var wire: Wire
        var port: PortKey
        var delivery: PortDelivery
        var package: String
        var isDurable: Bool
        var cursor: UInt64
        var subscription: SIPSubscriptionKey?
        var consumerHost: String
        var kick: AsyncStream<Void>.Continuation?
        var task: Task<Void, Never>?
        var lastProblem: String?
    }

    /// The consuming end of a wire on this node.
    struct ConsumerWire {
        var wire: Wire
        var producerHost: String
        var generation: Int
        var handle: SIPSubscriptionHandle?
        var task: Task<Void, Never>?
        var state: String
        var received: UInt64 = 0
        var duplicates: UInt64 = 0
    }

    /// A relay's need: `wire`'s consumer must acknowledge through `sequence`.
    struct AckNeed: Hashable, Sendable {
        let wire: WireKey
        let sequence: UInt64
    }

    var hosted: [String: HostedApplication] = [:]
    var instances: [InstanceKey: HostedInstance] = [:]
    var outboxes: [PortKey: ServiceOutbox] = [:]
    var portStates: [PortKey: [ServiceValue]] = [:]
    var producers: [WireKey: ProducerWire] = [:]
    var consumers: [WireKey: ConsumerWire] = [:]
    var restoredCursors: [WireKey: UInt64] = [:]
    var ackWaiters: [Int: (needs: [AckNeed], continuation: CheckedContinuation<Bool, Never>)] = [:]
    var nextWaiterID = 0
    var nextGeneration = 0
    /// Applications whose status goes out within ``ServiceRuntime/statusDelay`` (a state changed).
    var statusFlushes: Set<String> = []
    /// Applications whose status goes out within ``ServiceRuntime/countersDelay`` (only counters changed).
    var counterFlushes: Set<String> = []
    /// Instances placed here that are outside their time window: not started, their inputs refused until the time.
    var waiting: [InstanceKey: WaitingInstance] = [:]
    /// The task that starts and stops windowed instances as their windows open and close.
    var availabilityTask: Task<Void, Never>?
    /// NOTIFYs of wires being handled now; a stop lets them finish first.
    var deliveriesInFlight = 0
    var wirePackages: Set<String> = []
    /// Packages whose new SUBSCRIBEs the runtime checks and whose subscriptions it follows.
    var hookedPackages: Set<String> = []
    /// The node's admission and observer for SUBSCRIBEs of a package addressed to no instance.
    var outsideAdmissions: [String: SIPSubscribeAdmission] = [:]
    var outsideObservers: [String: @Sendable (SIPNotifierSubscriptionChange) async -> Void] = [:]
    var observerTasks: [String: Task<Void, Never>] = [:]

    // MARK: Deployer side

    /// An application this node deployed, with what its hosts report.
    struct Deployment {
        var record: DeployedApplication
        var composition: Composition
        var statuses: [String: ServiceHostStatus] = [:]
        var watches: [String: Task<Void, Never>] = [:]
        var lastSent: [String: ContinuousClock.Instant] = [:]
    }

    /// What the deployer knows of a host's liveness.
    struct HostHealth {
        var failures = 0
        var isDown = false
    }

    var deployments: [String: Deployment] = [:]
    var health: [String: HostHealth] = [:]
    var backgroundTasks: [Task<Void, Never>] = []
    var isRunning = false

    /// - Parameters:
    ///   - endpoint: The node's endpoint (started).
    ///   - transport: The node's transport, for OPTIONS probes.
    ///   - registry: The service types this node can run.
    ///   - catalog: The types compositions are checked against.
    ///   - membership: Which scopes the node takes part in, and who may send what.
    ///   - directory: The overlay's records.
    ///   - store: What survives a restart.
    ///   - clock: The clock components get (and the runtime sleeps on).
    public init(
        configuration: ServiceRuntimeConfiguration, endpoint: SIPEndpoint, transport: SIPTransport, registry: ServiceComponentRegistry,
        catalog: ServiceTypeCatalog = .builtIn, membership: any ServiceMembership, directory: any ServiceDirectory,
        store: any ServiceRuntimeStore, clock: ServiceClock, logger: Logger
    ) {
        self.configuration = configuration
        self.endpoint = endpoint
        self.transport = transport
        self.registry = registry
        self.catalog = catalog
        self.membership = membership
        self.directory = directory
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// The node's address of record as text.
    var me: String { configuration.addressOfRecord.description }

    /// Whether two addresses of record name the same node (host and port; the user part is ignored).
    nonisolated static func sameNode(_ a: String, _ b: String) -> Bool {
        guard let left = SIPURI(a), let right = SIPURI(b) else { return a == b }
        return ServiceAddressing.hostKey(left) == ServiceAddressing.hostKey(right)
    }

    // MARK: - Lifecycle

    /// Registers the `smf-app` package, restores the applications this node hosts (instances, outboxes, wires)
    /// and those it deployed (watching their hosts again), then starts publishing the node's overlay records
    /// and probing hosts.
    public func start() async {
        guard !isRunning else { return }
        isRunning = true
        await registerStatusPackage()
        do {
            for deployment in try store.hostedApplications() {
                guard let application = load(deployment) else {
                    logger.warning("a hosted application no longer loads; dropped", metadata: ["sdp.app": "\(deployment.application)"])
                    continue
                }
                hosted[deployment.application] = application
                try restoreDurableState(of: deployment.application)
            }
        } catch {
            logger.error("cannot restore the hosted applications", metadata: ["sdp.error": "\(error)"])
        }
        for name in hosted.keys.sorted() { await reconcile(name) }
        do {
            for record in try store.deployedApplications() {
                guard let application = load(record.deployment) else { continue }
                deployments[record.name] = Deployment(record: record, composition: application.composition)
                updateWatches(record.name)
            }
        } catch {
            logger.error("cannot restore the deployed applications", metadata: ["sdp.error": "\(error)"])
        }
        let publishing = Task { [weak self] in _ = await self?.publishRecordsForever() }
        let probing = Task { [weak self] in _ = await self?.probeForever() }
        backgroundTasks = [publishing, probing]
        logger.info(
            "service runtime started",
            metadata: ["sdp.hosted": "\(hosted.count)", "sdp.deployed": "\(deployments.count)", "sdp.instances": "\(instances.count)"])
    }

    /// Stops every instance and task; what is stored stays for the next start. Inputs being handled are given
    /// up to two seconds to finish, so what a component committed is also recorded as taken.
    public func stop() async {
        guard isRunning else { return }
        isRunning = false
        let deadline = ContinuousClock.now + .seconds(2)
        while deliveriesInFlight > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for task in backgroundTasks { task.cancel() }
        backgroundTasks = []
        availabilityTask?.cancel()
        availabilityTask = nil
        waiting = [:]
        for (_, task) in observerTasks { task.cancel() }
        observerTasks = [:]
        for (_, deployment) in deployments { for (_, task) in deployment.watches { task.cancel() } }
        for (key, _) in consumers { cancelConsumer(key) }
        for (_, producer) in producers {
            producer.task?.cancel()
            producer.kick?.finish()
        }
        producers = [:]
        for (id, waiter) in ackWaiters {
            ackWaiters[id] = nil
            waiter.continuation.resume(returning: false)
        }
        let running = instances
        instances = [:]
        for (_, instance) in running { await instance.component.stop() }
    }

    /// Loads a stored or received deployment's composition.
    func load(_ deployment: ServiceDeployment) -> HostedApplication? {
        let result = CompositionLoader(catalog: catalog).load(bytes: Array(deployment.composition.utf8), fileName: deployment.fileName)
        guard let composition = result.composition, result.isValid, composition.name == deployment.application else { return nil }
        return HostedApplication(
            deployment: deployment, composition: composition, scope: ServiceScope(community: composition.community, subcommunity: composition.subcommunity))
    }

    /// Reads the durable outboxes and cursors of an application back.
    func restoreDurableState(of application: String) throws {
        let sequences = try store.outboxSequences(application: application)
        var saved: [PortKey: [ServiceOutbox.Entry]] = [:]
        for record in try store.outbox(application: application) {
            saved[PortKey(application: application, service: record.service, port: record.port), default: []].append(
                ServiceOutbox.Entry(sequence: record.sequence, value: record.value))
        }
        var ports = Set(saved.keys)
        for name in sequences.keys {
            let parts = name.split(separator: ".", maxSplits: 1)
            guard parts.count == 2 else { continue }
            ports.insert(PortKey(application: application, service: String(parts[0]), port: String(parts[1])))
        }
        for port in ports {
            outboxes[port] = ServiceOutbox(restoring: saved[port] ?? [], lastSequence: sequences["\(port.service).\(port.port)"] ?? 0)
        }
        for (wire, cursor) in try store.wireCursors(application: application) {
            restoredCursors[WireKey(application: application, wire: wire)] = cursor
        }
    }

    // MARK: - Requests

    /// Answers a request that is the runtime's: a MESSAGE carrying a deploy, undeploy or notice, or a PUBLISH,
    /// MESSAGE or NOTIFY whose Request-URI user is `<app>.<service>` of an instance this node hosts (given to
    /// the instance's ``ServiceComponent/handle(_:context:)`` and answered after it returns). Returns nil for
    /// every other request, which goes on to the UA core.
    public func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse? {
        let request = incoming.request
        guard isRunning else { return nil }
        if request.method == .message, let type = request.headers.contentType.map(SIPEventBody.mediaType(of:)) {
            switch type {
            case ServiceDeployment.contentType: return await deployArrived(request)
            case ServiceUndeployment.contentType: return await undeployArrived(request)
            case ServiceNotice.contentType: return await noticeArrived(request)
            default: break
            }
        }
        guard request.method == .publish || request.method == .message || request.method == .notify, let user = request.uri.user,
            user != configuration.nodeName, let target = ServiceAddressing.instance(ofUser: user), hosted[target.application] != nil
        else { return nil }
        return await directRequestArrived(request, to: InstanceKey(application: target.application, service: target.service))
    }

    /// A response to `request` with a To tag (the runtime answers outside any dialog) and a reason.
    func answer(_ request: SIPRequest, _ statusCode: Int, _ reason: String? = nil, retryAfter: Int? = nil) -> SIPResponse {
        if statusCode < 300 {
            var response = SIPEventMessages.response(statusCode, to: request, toTag: SIPEventMessages.token(using: &generator))
            if let reason { response.reasonPhrase = reason }
            return response
        }
        return SIPRequestRefusal(statusCode: statusCode, reason: reason, retryAfter: retryAfter)
            .response(to: request, toTag: SIPEventMessages.token(using: &generator))
    }

    /// The refusal a membership answer means.
    static func refusal(_ answer: ServiceDirectAnswer) -> SIPRequestRefusal {
        SIPRequestRefusal(statusCode: answer.statusCode >= 300 ? answer.statusCode : 403, reason: answer.reason ?? "Forbidden")
    }

    /// Seconds since 1970 from the runtime's clock.
    var unixTime: Double {
        let (seconds, attoseconds) = clock.now().components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Sleeps on the runtime's clock; false when cancelled.
    func pause(_ duration: Duration) async -> Bool {
        do {
            try await clock.sleep(duration)
            return true
        } catch {
            return false
        }
    }
}
