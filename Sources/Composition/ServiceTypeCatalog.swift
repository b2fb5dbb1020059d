/// The type of a configuration parameter's value.
public enum ParameterType: Sendable, Hashable, CustomStringConvertible {
    /// Any text.
    case string
    /// A whole number.
    case integer
    /// A decimal number.
    case decimal
    /// `true` or `false`.
    case boolean
    /// A duration such as `250ms`, `30s`, `5m`, `2h`.
    case duration
    /// A `sip:` or `sips:` URI.
    case sipURI
    /// One of the listed words.
    case oneOf([String])

    /// Why `value` is not of this type, or nil when it is.
    public func problem(with value: String) -> String? {
        switch self {
        case .string:
            return value.isEmpty ? "is empty" : nil
        case .integer:
            return Int(value) == nil ? "'\(value)' is not a whole number" : nil
        case .decimal:
            return Double(value).map(\.isFinite) == true ? nil : "'\(value)' is not a decimal number"
        case .boolean:
            return value == "true" || value == "false" ? nil : "'\(value)' is not true or false"
        case .duration:
            return CompositionDuration.parse(value) == nil ? "'\(value)' is not a duration such as 250ms, 30s, 5m or 2h" : nil
        case .sipURI:
            let lower = value.lowercased()
            return (lower.hasPrefix("sip:") || lower.hasPrefix("sips:")) && value.count > 5 && !value.contains(" ")
                ? nil : "'\(value)' is not a sip: or sips: URI"
        case .oneOf(let words):
            return words.contains(value) ? nil : "'\(value)' is not one of \(words.joined(separator: ", "))"
        }
    }

    public var description: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .decimal: "decimal"
        case .boolean: "boolean"
        case .duration: "duration"
        case .sipURI: "sip-uri"
        case .oneOf(let words): words.joined(separator: "|")
        }
    }
}

/// A configuration parameter a service type takes.
public struct ParameterDescriptor: Sendable, Hashable {
    /// The parameter's name.
    public var name: String
    /// The type of its value.
    public var type: ParameterType
    /// Whether a composition must set it.
    public var isRequired: Bool
    /// What it means.
    public var summary: String

    /// Creates a descriptor.
    public init(_ name: String, _ type: ParameterType, required: Bool = false, _ summary: String) {
        self.name = name
        self.type = type
        self.isRequired = required
        self.summary = summary
    }
}

/// How a port's values travel over its wires.
public enum PortDelivery: String, Sendable, Hashable, CustomStringConvertible {
    /// A stream of values: every value reaches every wired consumer once, in order, and is acknowledged
    /// (sensor readings, alarms, selections, advice).
    case events
    /// A current state: a consumer gets the whole state when it subscribes and again whenever it changes;
    /// states in between may be skipped (the supporters responsible for a building, availability).
    case state

    public var description: String { rawValue }
}

/// An input or output port: the event package whose notifications carry its values, and their type.
public struct PortDescriptor: Sendable, Hashable {
    /// The port's name.
    public var name: String
    /// The SIP event package (RFC 6665 §7) of the subscription a wire to or from this port makes.
    public var eventPackage: String
    /// The type of the values carried (wires join ports of the same type only).
    public var valueType: String
    /// For inputs: whether a composition must wire it (a service whose required input is never wired
    /// is unreachable). Outputs ignore it.
    public var isRequired: Bool
    /// For outputs: the filter parameters a subscription may carry (e.g. `building`).
    public var filters: [String]
    /// What it carries.
    public var summary: String
    /// Whether its values are a stream of events or a current state; both ends of a wire agree, because
    /// wires join ports of the same value type and package only.
    public var delivery: PortDelivery

    /// Creates a descriptor.
    public init(
        _ name: String, package eventPackage: String, value valueType: String, required: Bool = false,
        filters: [String] = [], delivery: PortDelivery = .events, _ summary: String
    ) {
        self.name = name
        self.eventPackage = eventPackage
        self.valueType = valueType
        self.isRequired = required
        self.filters = filters
        self.delivery = delivery
        self.summary = summary
    }
}

/// What a composition may say about one service type: its ports and configuration.
public struct ServiceTypeDescriptor: Sendable, Hashable {
    /// The type's name (e.g. `sensor-recorder`).
    public var name: String
    /// What the service does.
    public var summary: String
    /// Its input ports.
    public var inputs: [PortDescriptor]
    /// Its output ports.
    public var outputs: [PortDescriptor]
    /// Its configuration parameters.
    public var parameters: [ParameterDescriptor]
    /// Whether it takes `<rule>` elements, and needs at least one.
    public var takesRules: Bool

    /// Creates a descriptor.
    public init(
        name: String, summary: String, inputs: [PortDescriptor] = [], outputs: [PortDescriptor] = [],
        parameters: [ParameterDescriptor] = [], takesRules: Bool = false
    ) {
        self.name = name
        self.summary = summary
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters
        self.takesRules = takesRules
    }

    /// The input port with this name.
    public func input(_ name: String) -> PortDescriptor? { inputs.first { $0.name == name } }
    /// The output port with this name.
    public func output(_ name: String) -> PortDescriptor? { outputs.first { $0.name == name } }
    /// The parameter with this name.
    public func parameter(_ name: String) -> ParameterDescriptor? { parameters.first { $0.name == name } }
}

/// The service types a composition may use, by name.
public struct ServiceTypeCatalog: Sendable, Hashable {
    /// The descriptors, by type name.
    public private(set) var types: [String: ServiceTypeDescriptor]

    /// Creates a catalogue; a later descriptor replaces an earlier one of the same name.
    public init(_ descriptors: [ServiceTypeDescriptor] = []) {
        types = [:]
        for descriptor in descriptors { types[descriptor.name] = descriptor }
    }

    /// The descriptor of `name`, if known.
    public subscript(_ name: String) -> ServiceTypeDescriptor? { types[name] }

    /// The type names, sorted.
    public var names: [String] { types.keys.sorted() }

    /// The two ports `wire` joins in `composition` (output, input), when both services, their types and
    /// the ports exist; the output's ``PortDescriptor/eventPackage`` is the package the wire subscribes to.
    public func ports(of wire: Wire, in composition: Composition) -> (output: PortDescriptor, input: PortDescriptor)? {
        guard let producer = composition.service(wire.from.service), let consumer = composition.service(wire.to.service),
            let output = self[producer.type]?.output(wire.from.port), let input = self[consumer.type]?.input(wire.to.port)
        else { return nil }
        return (output, input)
    }

    /// Adds (or replaces) a descriptor.
    public mutating func register(_ descriptor: ServiceTypeDescriptor) {
        types[descriptor.name] = descriptor
    }
}
