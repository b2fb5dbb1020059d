// The service component API of the Service Delivery Platform (seed 000 §IV). See docs/services.md.
//
// A service type (e.g. `sensor-recorder`) is implemented by a ``ServiceComponentFactory`` that makes one
// ``ServiceComponent`` per deployed instance. Components see the platform only through a ``ServiceContext``:
// they emit values on their output ports, receive values on their input ports, talk SIP to people and
// devices outside the composition through ``ServiceSIP``, and read time from a ``ServiceClock``. They never
// open sockets or databases themselves; the stores they need are handed to their factory by the node.

public import Composition
public import Logging
public import Rules
public import SIPSyntax

// MARK: - Values

/// One value on a port: a body, the attributes wires filter on, and an id that is the same on every
/// retry, so consumers can drop duplicates.
public struct ServiceValue: Sendable, Hashable, Codable {
    /// Unique and stable across retries and re-deliveries. Components may leave it empty when they emit;
    /// the runtime then assigns one (see ``ServiceContext/emit(_:on:)``).
    public var id: String
    /// The body's media type, e.g. `application/smf-sensor+json`.
    public var contentType: String
    /// The body.
    public var body: [UInt8]
    /// Attributes a wire's filters match against (`building`, `kind`, `sensor`, `household`, `supporter`, …).
    /// A wire filter `name=value` passes a value whose attribute `name` equals `value`; a value without the
    /// attribute does not pass.
    public var attributes: [String: String]
    /// The path the value took, hop by hop (``ServiceHop``): the runtime starts it when a request reaches an
    /// instance, and a value emitted while handling an input gets that input's trace plus its own hop. Components
    /// leave it empty; a component that keeps a value's history (the notifier, for an alarm) reads it.
    public var trace: [ServiceHop] = []

    /// Creates a value.
    public init(id: String = "", contentType: String, body: [UInt8], attributes: [String: String] = [:]) {
        self.id = id
        self.contentType = contentType
        self.body = body
        self.attributes = attributes
    }

    private enum CodingKeys: String, CodingKey {
        case id, contentType, body, attributes, trace
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        contentType = try container.decode(String.self, forKey: .contentType)
        body = try container.decode([UInt8].self, forKey: .body)
        attributes = try container.decode([String: String].self, forKey: .attributes)
        trace = try container.decodeIfPresent([ServiceHop].self, forKey: .trace) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(body, forKey: .body)
        try container.encode(attributes, forKey: .attributes)
        if !trace.isEmpty { try container.encode(trace, forKey: .trace) }
    }

    /// Creates a value from UTF-8 text.
    public init(id: String = "", contentType: String, text: String, attributes: [String: String] = [:]) {
        self.init(id: id, contentType: contentType, body: Array(text.utf8), attributes: attributes)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// Whether every filter matches an attribute of this value.
    public func passes(_ filters: [WireFilter]) -> Bool {
        filters.allSatisfy { attributes[$0.name] == $0.value }
    }
}

/// What arrives on an input port.
public enum ServiceInput: Sendable, Hashable {
    /// One value of an event port (``PortDelivery/events``), in the order the producer emitted it.
    case value(port: String, wire: String, ServiceValue)
    /// The whole current state a state port (``PortDelivery/state``) holds for this wire's filters; it
    /// replaces what the same wire delivered before.
    case state(port: String, wire: String, [ServiceValue])
}

// MARK: - Acknowledgement

/// When the runtime acknowledges an input (answers the NOTIFY that carried it with 200).
///
/// Nothing is acknowledged before it is safe (SPEC §6): either the component committed it to its own
/// store, or everything it caused downstream was acknowledged there.
public enum ServiceDurability: Sendable, Hashable {
    /// The component keeps nothing durable: an input is acknowledged only once every value emitted while
    /// handling it has been acknowledged by every consumer wired to that port. A relay that dies loses
    /// nothing acknowledged: its producer still holds the value and re-delivers it to the replacement.
    case relay
    /// The component commits the input to its own store inside ``ServiceComponent/receive(_:context:)``
    /// (idempotently, by ``ServiceValue/id``); the runtime then keeps the values it emitted in the node's
    /// database (a durable outbox) and acknowledges at once. They survive a restart of the node.
    case durable
}

// MARK: - Instance

/// The deployed instance a component runs as.
public struct ServiceInstanceInfo: Sendable, Hashable {
    /// The application (composition name).
    public var application: String
    /// The composition's community.
    public var community: String
    /// The sub-community it was deployed into.
    public var subcommunity: String
    /// The service declaration: id, type, configuration and rules, as written in the composition.
    public var declaration: ServiceDeclaration
    /// The SIP URI requests to this instance are addressed to, e.g.
    /// `sip:building-surveillance.recorder@127.0.0.1:5070`.
    public var uri: String
    /// The address of record of the node it runs on.
    public var hostAddressOfRecord: String
    /// Who deployed the application (its owner's node AoR); notices go there.
    public var deployer: String

    /// Creates instance information.
    public init(
        application: String, community: String, subcommunity: String, declaration: ServiceDeclaration, uri: String,
        hostAddressOfRecord: String, deployer: String
    ) {
        self.application = application
        self.community = community
        self.subcommunity = subcommunity
        self.declaration = declaration
        self.uri = uri
        self.hostAddressOfRecord = hostAddressOfRecord
        self.deployer = deployer
    }

    /// The service id within the composition.
    public var serviceID: String { declaration.id }
    /// The service type.
    public var serviceType: String { declaration.type }
    /// The value of configuration parameter `name`, if set.
    public func parameter(_ name: String) -> String? { declaration.value(of: name) }
    /// The rules declared for a rule component.
    public var rules: [Rule] { declaration.rules.map(\.rule) }
}

// MARK: - Time

/// The clock a component reads; passed in so tests can drive time.
public struct ServiceClock: Sendable {
    /// The current time as a duration since 1970-01-01T00:00:00Z.
    public var now: @Sendable () -> Duration
    /// Sleeps for a duration (throws when the task is cancelled).
    public var sleep: @Sendable (Duration) async throws -> Void

    /// Creates a clock.
    public init(now: @escaping @Sendable () -> Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }
}

// MARK: - SIP beyond the wires

/// How a request a component sent ended (RFC 3261 §17.1).
public enum ServiceDeliveryResult: Sendable, Hashable {
    /// A 2xx final response.
    case delivered(statusCode: Int)
    /// An error response (with its status), a timeout or a transport error, described.
    case failed(statusCode: Int?, reason: String)
}

/// A request addressed to an instance directly rather than through a wire: a sensor's PUBLISH, a
/// supporter's PIDF PUBLISH or registration, a phone's MESSAGE reply, a supporter's NOTIFY answer.
public struct ServiceDirectRequest: Sendable, Hashable {
    /// `PUBLISH`, `MESSAGE`, `NOTIFY`, …
    public var method: String
    /// The `Event` package, when the request has one.
    public var eventPackage: String?
    /// The sender (From URI).
    public var from: String
    /// The Request-URI.
    public var requestURI: String
    /// The body, if any.
    public var contentType: String?
    public var body: [UInt8]
    /// The request's `Expires` (RFC 3903 §4.1: 0 removes a publication), when it has one.
    public var expires: Int?
    /// The request's `SIP-If-Match` (RFC 3903 §4.4: the entity tag a refresh or modification names), when it has one.
    public var ifMatch: String?
    /// Whether the sender proved membership of the instance's sub-community. Only components that admit
    /// outsiders (``ServiceComponent/admitsOutsider(_:)``, e.g. a plain phone replying to an alarm MESSAGE) ever
    /// see `false`.
    public var fromMember: Bool = true

    /// Creates a request description.
    public init(
        method: String, eventPackage: String?, from: String, requestURI: String, contentType: String?, body: [UInt8], expires: Int? = nil,
        ifMatch: String? = nil
    ) {
        self.method = method
        self.eventPackage = eventPackage
        self.from = from
        self.requestURI = requestURI
        self.contentType = contentType
        self.body = body
        self.expires = expires
        self.ifMatch = ifMatch
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// How a component answers a direct request; the answer is sent only after the component returned, so
/// a 2xx means the request was handled (and, for a durable component, committed).
public struct ServiceDirectAnswer: Sendable, Hashable {
    /// The final status code.
    public var statusCode: Int
    /// A reason phrase that says what was wrong, for errors.
    public var reason: String?

    /// Creates an answer.
    public init(statusCode: Int, reason: String? = nil) {
        self.statusCode = statusCode
        self.reason = reason
    }

    /// 200 OK.
    public static let ok = ServiceDirectAnswer(statusCode: 200)
    /// 405: the instance takes no such request.
    public static let notAllowed = ServiceDirectAnswer(statusCode: 405, reason: "Method Not Allowed")
}

/// A notification of a subscription a component holds outside the wires (e.g. a variant-2 notifier's
/// SUBSCRIBE to a supporter).
public enum ServiceSubscriptionUpdate: Sendable, Hashable {
    /// A NOTIFY arrived with this body.
    case notification(contentType: String?, body: [UInt8])
    /// The subscription ended (refused, timed out, terminated by the notifier), described.
    case terminated(reason: String)
}

/// SIP a component may send to parties outside the composition's wires. Every request goes out signed
/// for the instance's community when the node is a member (docs/community.md).
public protocol ServiceSIP: Sendable {
    /// Sends a pager-mode MESSAGE (RFC 3428) from the instance's URI (a reply reaches the instance) and returns how
    /// it ended.
    func sendMessage(to uri: String, contentType: String, body: [UInt8]) async -> ServiceDeliveryResult
    /// SUBSCRIBEs to `package` at `uri` with an optional body (RFC 6665 §4.1); the stream carries its NOTIFYs
    /// until it ends. Ending the consuming task, or calling `cancel`, unsubscribes.
    func subscribe(to uri: String, package: String, contentType: String?, body: [UInt8], expires: Int) async
        -> (updates: AsyncStream<ServiceSubscriptionUpdate>, cancel: @Sendable () async -> Void)
    /// Sets the state of `resource` (a SIP URI) in `package`: every subscriber to it gets a NOTIFY
    /// (RFC 6665 §4.2.2). Used by components that act as notifiers for parties outside the composition
    /// (e.g. supporters' nodes subscribed to alarms).
    func setState(package: String, resource: String, contentType: String, body: [UInt8]) async throws
}

// MARK: - Context

/// What the runtime offers a running instance. One context per instance; it is `Sendable` and may be kept.
public protocol ServiceContext: Sendable {
    /// The instance this context belongs to.
    var instance: ServiceInstanceInfo { get }
    /// Its clock.
    var clock: ServiceClock { get }
    /// A logger with the instance's metadata (`sdp.app`, `sdp.service`).
    var logger: Logger { get }
    /// SIP beyond the wires.
    var sip: any ServiceSIP { get }

    /// Emits a value on an event output port (``PortDelivery/events``). Every consumer wired to the port
    /// whose filters the value passes gets it, once, in emission order.
    ///
    /// Called while handling an input, the value is tied to that input (see ``ServiceDurability``), and an
    /// empty ``ServiceValue/id`` is derived from the input's id, so a replacement instance handling the same
    /// input emits the same id. Called on its own (a sensor reading, a timer), an empty id gets a fresh one.
    /// Returns once the value is held by the runtime (for a durable component: committed to the outbox).
    /// - Throws: ``ServicePlatformError`` for an unknown port or a port that is not an event output.
    func emit(_ value: ServiceValue, on port: String) async throws

    /// Replaces the whole state of a state output port (``PortDelivery/state``). Each wired consumer gets the
    /// values its filters pass, as one ``ServiceInput/state(port:wire:_:)``, now and whenever it changes.
    func setState(_ values: [ServiceValue], on port: String) async throws

    /// Tells the application's owners something they must act on (a service down, an alarm nobody
    /// accepted). Delivered to the deployer's node and shown by `smf apps`/`smf app show`.
    func notice(_ text: String) async
}

// MARK: - Component

/// One running instance of a service type.
///
/// Usually an `actor`. The runtime calls ``start(context:)`` once (also after a restart of the node, with
/// the component's own state restored from its store by the factory), then ``receive(_:context:)`` for
/// every input and ``handle(_:context:)`` for every direct request, and ``stop()`` when the instance is
/// undeployed, moved or the node shuts down.
public protocol ServiceComponent: Sendable {
    /// The instance is wired and may emit. Long-running work (timers, simulated sensors) runs in tasks the
    /// component owns and ends in ``stop()``.
    func start(context: any ServiceContext) async throws
    /// One input. Returning means it was handled; throwing makes the runtime refuse it for now (the producer
    /// delivers it again later).
    func receive(_ input: ServiceInput, context: any ServiceContext) async throws
    /// A request addressed to the instance's URI directly.
    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer
    /// The instance ends; stop every task it started.
    func stop() async
    /// One line about the instance's own state for `smf app show` (e.g. "412 readings stored"), or nil.
    func summary() async -> String?
    /// Whether a direct request from outside the instance's sub-community may still reach ``handle(_:context:)``
    /// (with ``ServiceDirectRequest/fromMember`` false), e.g. a plain SIP phone's reply to an alarm MESSAGE, which
    /// the component then checks itself. Default: no (the membership's refusal is the answer).
    func admitsOutsider(_ request: ServiceDirectRequest) async -> Bool
    /// A SUBSCRIBE from a member to a resource of this instance that is not a wire: `resource` is its To URI
    /// (e.g. the notifier's `<instance URI>;supporter=bob%40north.example`, whose state the component sets with
    /// ``ServiceSIP/setState(package:resource:contentType:body:)``). Return nil to accept it, or the refusal.
    /// Default: 404.
    func admitSubscription(_ request: ServiceDirectRequest, resource: String) async -> ServiceDirectAnswer?
}

extension ServiceComponent {
    public func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        .notAllowed
    }

    public func summary() async -> String? { nil }

    public func admitsOutsider(_ request: ServiceDirectRequest) async -> Bool { false }

    public func admitSubscription(_ request: ServiceDirectRequest, resource: String) async -> ServiceDirectAnswer? {
        ServiceDirectAnswer(statusCode: 404, reason: "No Such Resource")
    }
}

/// Makes the components of one service type.
public protocol ServiceComponentFactory: Sendable {
    /// The type, as in the composition and the ``Composition/ServiceTypeCatalog``.
    var typeName: String { get }
    /// When its inputs are acknowledged.
    var durability: ServiceDurability { get }
    /// Makes the component for one instance.
    /// - Throws: when the configuration cannot be used (the message names the parameter).
    func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent
    /// Checks an instance's configuration on this node before the host commits its part of a deployment
    /// (docs/services.md, "Instantiate"): a deploy MESSAGE placing a service whose check throws is answered
    /// `488 Invalid Configuration: …` with the error's message, and the deploy fails naming the service and host, so
    /// nothing is deployed. It must not start anything. The default accepts every configuration; a configuration it
    /// lets through and ``makeComponent(for:)`` refuses shows as the instance's state `failed: …` instead.
    /// - Throws: ``ServicePlatformError`` of code `invalidConfiguration` naming the service and the parameter.
    func check(_ instance: ServiceInstanceInfo) throws
    /// Event packages whose states the instances set for parties outside the wires
    /// (``ServiceSIP/setState(package:resource:contentType:body:)``): their SUBSCRIBEs to an instance's URI are
    /// checked by membership and the component (``ServiceComponent/admitSubscription(_:resource:)``). Default none.
    var resourcePackages: [String] { get }
}

extension ServiceComponentFactory {
    public func check(_ instance: ServiceInstanceInfo) throws {}
    public var resourcePackages: [String] { [] }
}

/// The service types a node can run, by type name.
public struct ServiceComponentRegistry: Sendable {
    private var factories: [String: any ServiceComponentFactory] = [:]

    /// Creates an empty registry.
    public init() {}

    /// Creates a registry of these factories.
    public init(_ factories: [any ServiceComponentFactory]) {
        for factory in factories { register(factory) }
    }

    /// Adds (or replaces) the factory of a type.
    public mutating func register(_ factory: any ServiceComponentFactory) {
        factories[factory.typeName] = factory
    }

    /// The factory of a type, if the node has one.
    public func factory(for typeName: String) -> (any ServiceComponentFactory)? { factories[typeName] }

    /// The type names this node can run, sorted.
    public var typeNames: [String] { factories.keys.sorted() }
}

// MARK: - Errors

/// A service platform operation failed; the message says what and where.
public struct ServicePlatformError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A port that the service type does not have, or of the wrong kind.
        public static let unknownPort = Code(name: "unknownPort")
        /// The configuration cannot be used.
        public static let invalidConfiguration = Code(name: "invalidConfiguration")
        /// A value or body that cannot be read.
        public static let invalidValue = Code(name: "invalidValue")
        /// The node offers no component for the type.
        public static let unknownType = Code(name: "unknownType")
        /// A placement could not be resolved to a live provider.
        public static let unresolved = Code(name: "unresolved")
        /// The runtime or its store failed.
        public static let runtime = Code(name: "runtime")
    }

    /// What kind of failure.
    public var code: Code
    /// What went wrong, naming the service, port or parameter.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

// MARK: - Membership

/// The community and sub-community an application is deployed into.
public struct ServiceScope: Sendable, Hashable, CustomStringConvertible {
    /// The community's name.
    public var community: String
    /// The sub-community's name, e.g. `surveillance/north-street`.
    public var subcommunity: String

    /// Creates a scope.
    public init(community: String, subcommunity: String) {
        self.community = community
        self.subcommunity = subcommunity
    }

    /// `community/subcommunity`.
    public var description: String { "\(community)/\(subcommunity)" }
}

/// What the runtime asks of community membership (docs/community.md). The node supplies it; until a node
/// belongs to a community, ``OpenServiceMembership`` stands in.
public protocol ServiceMembership: Sendable {
    /// The sub-communities this node may deploy into, host services of and publish its offered types in.
    func scopes() async -> [ServiceScope]
    /// Whether a request that reached an instance of `scope` (a wire SUBSCRIBE, a NOTIFY, a direct PUBLISH or
    /// MESSAGE, a deploy MESSAGE) comes from a member of that sub-community. `nil` lets it through; otherwise the
    /// answer to send (403 with a reason that says why) and nothing changes.
    func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer?
}

/// Membership for nodes outside any community: every scope named in the configuration is allowed and every
/// request is let through.
public struct OpenServiceMembership: ServiceMembership {
    /// The scopes this node takes part in.
    public var configuredScopes: [ServiceScope]

    /// Creates an open membership over `scopes`.
    public init(scopes: [ServiceScope] = []) {
        self.configuredScopes = scopes
    }

    public func scopes() async -> [ServiceScope] { configuredScopes }
    public func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer? { nil }
}
