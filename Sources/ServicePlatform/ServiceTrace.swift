// The hop trace a value carries through a composition (docs/services.md "Trace"): where it entered, each service
// that handled it and each port it left by, with the node and the time, so an alarm can say how it got to the
// supporter and how long each step took.

/// One step of a value's path: a service on a node took a request or an input, or emitted the value.
public struct ServiceHop: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What happened at this hop.
    public enum Action: String, Sendable, Hashable, Codable {
        /// A request from outside the wires reached the instance (a sensor's PUBLISH, a forwarder's MESSAGE).
        case request
        /// A value arrived on an input port through a wire.
        case received
        /// The instance emitted a value on an output port.
        case emitted
    }

    /// The service id in the composition (`recorder`, `selector`, …).
    public var service: String
    /// The service type (`sensor-recorder`, …).
    public var type: String
    /// The node it ran on (its address of record).
    public var node: String
    public var action: Action
    /// The port (input or output), or for a request its method and event package (`PUBLISH m2m-sensor`).
    public var port: String
    /// For a received value the wire it came by; for a request its sender.
    public var detail: String?
    /// When, in nanoseconds since 1970 (the node's clock).
    public var atNanoseconds: Int64

    public init(service: String, type: String, node: String, action: Action, port: String, detail: String? = nil, atNanoseconds: Int64) {
        self.service = service
        self.type = type
        self.node = node
        self.action = action
        self.port = port
        self.detail = detail
        self.atNanoseconds = atNanoseconds
    }

    /// E.g. `recorder (sensor-recorder) at sip:house-12@127.0.0.1:5070: request PUBLISH m2m-sensor from sip:…`.
    public var description: String {
        "\(service) (\(type)) at \(node): \(action.rawValue) \(port)" + (detail.map { " \($0)" } ?? "")
    }

    /// Hops a trace keeps at most: the first ones (where the value entered) and the latest.
    public static let limit = 32

    /// `trace` plus `hop`, cut to ``limit`` hops (the oldest after the first few go).
    public static func extend(_ trace: [ServiceHop], with hop: ServiceHop) -> [ServiceHop] {
        var trace = trace + [hop]
        if trace.count > limit { trace.removeSubrange(4..<(trace.count - limit + 4)) }
        return trace
    }
}

/// The trace of what the current task is handling (a request or a wire input); values emitted meanwhile carry it
/// on, with a hop of their own.
enum ServiceTracing {
    @TaskLocal static var current: [ServiceHop]?
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var traceNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
