import Foundation
import Logging
public import ServicePlatform

/// The ports of the energy service types and the messages each carries.
///
/// There is one body format, ``EnergyMessage`` as `application/smf-energy+json`; each port travels under its own
/// event package (the catalogue's `m2m-meter`, `m2m-flexibility`, `m2m-balance`, `m2m-advice`,
/// `m2m-coordination`), so a composition can only wire ports that carry the same messages. A service drops (and
/// logs) a message of a type its input port does not carry: a household cannot pass itself off as a coordinator on
/// `offers`, nor a meter send advice.
public enum EnergyPort {
    /// The message types each port carries, by `type.port` (inputs and outputs of the same name carry the same).
    public static let carried: [String: Set<String>] = [
        "household-meter.readings": ["reading", "forecast", "withdrawal"],
        "community-balance.readings": ["reading", "forecast", "withdrawal"],
        "community-balance.balance": ["aggregate-forecast", "aggregate-reading", "withdrawal"],
        "flexibility.offers": ["flexibility", "started", "withdrawal"],
        "flexibility.advice": ["advice", "coordinator-left"],
        "coordinator.balance": ["aggregate-forecast", "aggregate-reading", "withdrawal"],
        "coordinator.offers": ["flexibility", "started", "withdrawal"],
        "coordinator.advice": ["advice", "coordinator-left"],
        "coordinator.peers": ["coordinator", "coordinator-left"],
    ]

    /// The value that carries `message`, with the attributes wire filters match.
    public static func value(_ message: EnergyMessage, attributes: [String: String]) throws(EnergyMessageError) -> ServiceValue {
        ServiceValue(contentType: EnergyMessage.contentType, body: try message.body(), attributes: attributes)
    }

    /// The message a value carries.
    /// - Throws: ``EnergyMessageError`` when the value is not an `application/smf-energy+json` energy message.
    public static func message(in value: ServiceValue) throws(EnergyMessageError) -> EnergyMessage {
        try message(contentType: value.contentType, body: value.body)
    }

    /// The message of a body of `contentType` (media type parameters such as `charset` are ignored).
    static func message(contentType: String?, body: [UInt8]) throws(EnergyMessageError) -> EnergyMessage {
        let type = contentType ?? ""
        let bare = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard bare == EnergyMessage.contentType else { throw .wrongContentType(type) }
        return try EnergyMessage(body: body)
    }

    /// The message an input carries if port `port` of `serviceType` takes its type; `nil` (and a log line) otherwise.
    static func accepted(_ input: ServiceInput, by serviceType: String, context: any ServiceContext) -> (port: String, message: EnergyMessage, attributes: [String: String])? {
        guard case .value(let port, let wire, let value) = input else {
            context.logger.info("energy: state input ignored", metadata: ["energy.port": "\(input)"])
            return nil
        }
        let message: EnergyMessage
        do {
            message = try Self.message(in: value)
        } catch {
            context.logger.info("energy: value dropped", metadata: ["energy.wire": "\(wire)", "energy.value": "\(value.id)", "energy.error": "\(error)"])
            return nil
        }
        guard carried["\(serviceType).\(port)"]?.contains(message.typeName) == true else {
            context.logger.info(
                "energy: value of a type the port does not carry dropped",
                metadata: ["energy.wire": "\(wire)", "energy.port": "\(port)", "energy.type": "\(message.typeName)"])
            return nil
        }
        return (port, message, value.attributes)
    }
}
