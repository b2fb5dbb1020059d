public import ServicePlatform

/// Makes `sensor-forwarder` instances (service 4): each forward request from the recorder carries a
/// reading and, optionally, its destination. The reading goes to the request's destination, else to the
/// `destination` parameter, by MESSAGE (`application/smf-sensor+json`, RFC 3428); with neither, it goes
/// out on the `readings` port to the consumers wired there (the evaluator in variant 1).
///
/// Durability: ``ServiceDurability/relay``. A request is acknowledged only once its reading was delivered:
/// the MESSAGE got a 2xx, or the consumers of `readings` acknowledged it. A failed MESSAGE makes `receive`
/// throw, so the recorder delivers the request again later.
public struct SensorForwarderFactory: ServiceComponentFactory {
    public let typeName = "sensor-forwarder"
    public let durability = ServiceDurability.relay

    /// Creates the factory.
    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let destination = ComponentParameters(instance: instance).string("destination")
        if let destination, !SIPAddress.isSIPURI(destination) {
            throw ServicePlatformError(
                .invalidConfiguration, "service \(instance.serviceID) (sensor-forwarder): parameter 'destination' is \"\(destination)\", not a sip: URI")
        }
        return SensorForwarderComponent(defaultDestination: destination)
    }
}

/// A running forwarder. See ``SensorForwarderFactory``.
struct SensorForwarderComponent: ServiceComponent {
    let defaultDestination: String?

    func start(context: any ServiceContext) async throws {}

    func stop() async {}

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(let port, _, let value) = input, port == "requests" else { return }
        guard let request = value.decoded(as: SurveillanceMediaType.forwardRequest, on: port, logger: context.logger, ForwardRequestBody.init(parsing:))
        else { return }
        guard let destination = request.destination ?? defaultDestination else {
            let id = value.id.isEmpty ? "" : value.id + "/reading"
            try await context.emit(.reading(request.reading, id: id), on: "readings")
            return
        }
        let result = await context.sip.sendMessage(
            to: destination, contentType: SurveillanceMediaType.sensorReading, body: request.reading.encoded())
        if case .failed(let status, let reason) = result {
            throw ServicePlatformError(
                .runtime, "forwarding \(request.reading.sensorID)'s reading to \(destination) failed: \(status.map { "\($0) " } ?? "")\(reason)")
        }
    }
}
