// The composition language: model, XSD validation, semantic checks. See docs/compositions.md.
public import Rules

/// Where in a composition file something was declared (1-based line and column).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file name as given to the loader.
    public var file: String
    /// The 1-based line.
    public var line: Int
    /// The 1-based column (1 when libxml2 does not know it, as for elements).
    public var column: Int

    /// Creates a location; unknown (0 or negative) lines and columns become 1.
    public init(file: String, line: Int, column: Int = 1) {
        self.file = file
        self.line = max(line, 1)
        self.column = max(column, 1)
    }

    /// `FILE:LINE:COLUMN`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a composition, in the form compilers and editors understand.
public struct CompositionDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong, e.g. "unknown service type 'smoke-alarm'".
    public var message: String

    /// Creates a diagnostic.
    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `FILE:LINE:COLUMN: error: MESSAGE`.
    public var description: String { "\(location): error: \(message)" }
}

/// An application: its services, the wires between them and the constraints on them.
public struct Composition: Sendable, Hashable {
    /// The XML namespace of version 1 of the language.
    public static let namespace = "urn:smf:composition:1"

    /// The application's name (unique within a sub-community).
    public var name: String
    /// The composition's version (a positive integer, 1 when absent).
    public var version: Int
    /// The community the application belongs to.
    public var community: String
    /// The sub-community it is deployed into (e.g. `surveillance/north-street`).
    public var subcommunity: String
    /// Free text describing the application.
    public var description: String?
    /// The services, in document order.
    public var services: [ServiceDeclaration]
    /// The wires, in document order.
    public var wires: [Wire]
    /// The constraints, in document order.
    public var constraints: [ServiceConstraint]
    /// Where the `<composition>` element is.
    public var location: SourceLocation

    /// Creates a composition.
    public init(
        name: String, version: Int = 1, community: String, subcommunity: String, description: String? = nil,
        services: [ServiceDeclaration], wires: [Wire] = [], constraints: [ServiceConstraint] = [],
        location: SourceLocation
    ) {
        self.name = name
        self.version = version
        self.community = community
        self.subcommunity = subcommunity
        self.description = description
        self.services = services
        self.wires = wires
        self.constraints = constraints
        self.location = location
    }

    /// The service with this id, if any.
    public func service(_ id: String) -> ServiceDeclaration? {
        services.first { $0.id == id }
    }
}

/// Where a service runs.
public enum Placement: Sendable, Hashable, CustomStringConvertible {
    /// On the node that deploys the composition.
    case local
    /// On any member of the sub-community that offers the service type (found through the overlay).
    case any
    /// On the named member (a peer name or SIP URI).
    case peer(String)

    /// Reads the attribute form: `local`, `any` or `peer:NAME`.
    public init?(attribute: String) {
        switch attribute {
        case "local": self = .local
        case "any": self = .any
        default:
            guard attribute.hasPrefix("peer:"), attribute.count > 5 else { return nil }
            self = .peer(String(attribute.dropFirst(5)))
        }
    }

    /// The attribute form: `local`, `any` or `peer:NAME`.
    public var description: String {
        switch self {
        case .local: "local"
        case .any: "any"
        case .peer(let name): "peer:\(name)"
        }
    }
}

/// One `<param name="…">value</param>` of a service.
public struct ConfigurationEntry: Sendable, Hashable {
    /// The parameter's name.
    public var name: String
    /// Its value, as written (surrounding white space removed).
    public var value: String
    /// Where it is declared.
    public var location: SourceLocation

    /// Creates an entry.
    public init(name: String, value: String, location: SourceLocation) {
        self.name = name
        self.value = value
        self.location = location
    }
}

/// A rule of a rule component, with where it was declared.
public struct RuleDeclaration: Sendable, Hashable {
    /// The rule, ready for ``Rules/RuleEvaluator``.
    public var rule: Rule
    /// Where the `<rule>` element is.
    public var location: SourceLocation

    /// Creates a declaration.
    public init(rule: Rule, location: SourceLocation) {
        self.rule = rule
        self.location = location
    }
}

/// One service of a composition.
public struct ServiceDeclaration: Sendable, Hashable {
    /// The service's id, unique within the composition.
    public var id: String
    /// Its service type (a name in the ``ServiceTypeCatalog``).
    public var type: String
    /// Where it runs.
    public var placement: Placement
    /// Its configuration, in document order.
    public var configuration: [ConfigurationEntry]
    /// Its rules (rule components only).
    public var rules: [RuleDeclaration]
    /// Where the `<service>` element is.
    public var location: SourceLocation

    /// Creates a service declaration.
    public init(
        id: String, type: String, placement: Placement = .any, configuration: [ConfigurationEntry] = [],
        rules: [RuleDeclaration] = [], location: SourceLocation
    ) {
        self.id = id
        self.type = type
        self.placement = placement
        self.configuration = configuration
        self.rules = rules
        self.location = location
    }

    /// The value of configuration parameter `name`, if set.
    public func value(of name: String) -> String? {
        configuration.first { $0.name == name }?.value
    }
}

/// `service.port`: one end of a wire.
public struct PortReference: Sendable, Hashable, CustomStringConvertible {
    /// The service id.
    public var service: String
    /// The port name.
    public var port: String

    /// Creates a reference.
    public init(service: String, port: String) {
        self.service = service
        self.port = port
    }

    /// Reads `service.port`.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(service: String(parts[0]), port: String(parts[1]))
    }

    public var description: String { "\(service).\(port)" }
}

/// A filter parameter of a wire's subscription (e.g. `building=B1`).
public struct WireFilter: Sendable, Hashable, CustomStringConvertible {
    /// The filter's name (one the producing port accepts).
    public var name: String
    /// The value to match.
    public var value: String

    /// Creates a filter.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// A wire from an output port to an input port: the consumer's SIP subscription (RFC 6665) to the
/// producer's event package, with filter parameters.
public struct Wire: Sendable, Hashable, CustomStringConvertible {
    /// The wire's id, if the author gave one.
    public var id: String?
    /// The producing output port.
    public var from: PortReference
    /// The consuming input port.
    public var to: PortReference
    /// Filter parameters sent with the subscription.
    public var filters: [WireFilter]
    /// Whether the wire closes a loop on purpose (cycles are errors otherwise).
    public var isFeedback: Bool
    /// Where the `<wire>` element is.
    public var location: SourceLocation

    /// Creates a wire.
    public init(
        id: String? = nil, from: PortReference, to: PortReference, filters: [WireFilter] = [],
        isFeedback: Bool = false, location: SourceLocation
    ) {
        self.id = id
        self.from = from
        self.to = to
        self.filters = filters
        self.isFeedback = isFeedback
        self.location = location
    }

    /// `from → to`.
    public var description: String { "\(from) → \(to)" }
}

/// A day of the week, as written in a time window.
public enum Weekday: String, Sendable, Hashable, CaseIterable {
    case mon, tue, wed, thu, fri, sat, sun
}

/// A daily time window: `from` to `to` (minutes after midnight), on the given days (every day when
/// empty). A window whose `to` is earlier than its `from` runs over midnight.
public struct TimeWindow: Sendable, Hashable {
    /// The days it applies to (every day when empty).
    public var days: [Weekday]
    /// Start, in minutes after midnight.
    public var fromMinute: Int
    /// End, in minutes after midnight (exclusive).
    public var toMinute: Int

    /// Creates a window.
    public init(days: [Weekday] = [], fromMinute: Int, toMinute: Int) {
        self.days = days
        self.fromMinute = fromMinute
        self.toMinute = toMinute
    }

    /// Whether `minute` (after midnight) of `day` is inside the window.
    public func contains(day: Weekday, minute: Int) -> Bool {
        if fromMinute <= toMinute {
            return (days.isEmpty || days.contains(day)) && minute >= fromMinute && minute < toMinute
        }
        // Over midnight: the part after `from` belongs to `day`, the part before `to` to the day before.
        if minute >= fromMinute { return days.isEmpty || days.contains(day) }
        guard minute < toMinute else { return false }
        let index = Weekday.allCases.firstIndex(of: day) ?? 0
        let previous = Weekday.allCases[(index + 6) % 7]
        return days.isEmpty || days.contains(previous)
    }
}

/// Where a service may run: on a named peer, or in a named area.
public enum AvailabilityPlace: Sendable, Hashable {
    /// On this member.
    case peer(String)
    /// In this area (e.g. a street or a feeder), as members declare it.
    case area(String)
}

/// When and where a service (or every service) is available.
public struct ServiceConstraint: Sendable, Hashable {
    /// The constrained service, or nil for every service.
    public var service: String?
    /// When it is available (always when empty).
    public var timeWindows: [TimeWindow]
    /// Where it may run (anywhere when empty).
    public var places: [AvailabilityPlace]
    /// Where the `<constraint>` element is.
    public var location: SourceLocation

    /// Creates a constraint.
    public init(
        service: String?, timeWindows: [TimeWindow] = [], places: [AvailabilityPlace] = [],
        location: SourceLocation
    ) {
        self.service = service
        self.timeWindows = timeWindows
        self.places = places
        self.location = location
    }
}
