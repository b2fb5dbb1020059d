// What the service runtime sends between nodes: the bodies of its MESSAGEs and NOTIFYs, and the SIP URIs it
// gives instances, wires and applications. See docs/services.md.

public import Composition
import Foundation
public import SIPSyntax

// MARK: - Addresses

/// How the runtime names things in SIP URIs. Application and service ids are identifiers (letters, digits, `_`,
/// `-`), so the dots below separate them without ambiguity.
public enum ServiceAddressing {
    /// `sip:<app>.<service>@HOST:PORT` of the node `host` (its address of record): where requests to an
    /// instance go — wire SUBSCRIBEs and direct PUBLISH, MESSAGE and NOTIFY.
    public static func instanceURI(application: String, service: String, host: SIPURI) -> SIPURI {
        replacingUser(of: host, with: "\(application).\(service)")
    }

    /// `sip:<app>.<service>.<wire>@HOST:PORT`: the resource a wire's subscription watches (its To URI), so that
    /// each wire of a state port has its own, filtered state.
    public static func wireResourceURI(application: String, service: String, wire: String, host: SIPURI) -> SIPURI {
        replacingUser(of: host, with: "\(application).\(service).\(wire)")
    }

    /// `sip:<app>@HOST:PORT`: the resource of the `smf-app` package through which a host reports an
    /// application's instances and wires to its deployer.
    public static func applicationURI(application: String, host: SIPURI) -> SIPURI {
        replacingUser(of: host, with: application)
    }

    /// The application and service of a user part `<app>.<service>`; nil for anything else.
    public static func instance(ofUser user: String) -> (application: String, service: String)? {
        let parts = user.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy(isIdentifier) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// The application, service and wire of a user part `<app>.<service>.<wire>`; nil for anything else.
    public static func wireResource(ofUser user: String) -> (application: String, service: String, wire: String)? {
        let parts = user.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy(isIdentifier) else { return nil }
        return (String(parts[0]), String(parts[1]), String(parts[2]))
    }

    /// A wire's id: the one its author gave, else `<from service>-<from port>-<to service>-<to port>`, which
    /// stays the same across revisions of the composition.
    public static func wireID(_ wire: Wire) -> String {
        wire.id ?? "\(wire.from.service)-\(wire.from.port)-\(wire.to.service)-\(wire.to.port)"
    }

    /// `sip:HOST:PORT` of a URI: the node it names, whatever its user part.
    public static func hostKey(_ uri: SIPURI) -> String {
        "\(uri.hostWithoutBrackets.lowercased()):\(uri.port ?? 5060)"
    }

    static func isIdentifier(_ text: Substring) -> Bool {
        guard let first = text.first, first.isLetter else { return false }
        return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    private static func replacingUser(of uri: SIPURI, with user: String) -> SIPURI {
        var copy = uri
        copy.user = user
        return copy
    }
}

/// Where an application's services run, as its deployer stores it in the community's overlay (record
/// `app:<community>:<application>`, kind generic, ``ServiceApplicationRecord``): how a member that runs nothing of
/// it (a supporter's node, a sensor gateway) finds the instance to send a request to.
public struct ServiceApplicationRecord: Codable, Sendable, Hashable {
    /// One service: its type and the URI requests to it go to (``ServiceAddressing/instanceURI(application:service:host:)``).
    public struct Service: Codable, Sendable, Hashable {
        public var type: String
        public var uri: String

        public init(type: String, uri: String) {
            self.type = type
            self.uri = uri
        }
    }

    public var application: String
    public var revision: Int
    /// The sub-community it runs in.
    public var community: String
    public var subcommunity: String
    /// Service id → where it runs.
    public var services: [String: Service]

    public init(application: String, revision: Int, community: String, subcommunity: String, services: [String: Service]) {
        self.application = application
        self.revision = revision
        self.community = community
        self.subcommunity = subcommunity
        self.services = services
    }

    /// The record's name: `app:<community>:<application>`.
    public static func name(community: String, application: String) -> String { "app:\(community):\(application)" }

    /// The services of `type`, sorted by id.
    public func services(ofType type: String) -> [(id: String, uri: String)] {
        services.filter { $0.value.type == type }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.uri) }
    }
}

// MARK: - Values on wires

/// The body of a wire's NOTIFY (`application/smf-values+json`): values of an event port, each with the
/// producer's sequence number, or the whole filtered state of a state port.
public struct ServiceValueBatch: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-values+json"

    /// One value with its sequence number on the producing port (1, 2, …; state values carry 0).
    public struct Entry: Codable, Sendable, Hashable {
        public var sequence: UInt64
        public var id: String
        public var contentType: String
        public var attributes: [String: String]
        /// The body, base64 in JSON.
        public var body: Data
        /// The value's hop trace (``ServiceValue/trace``); absent when empty.
        public var trace: [ServiceHop]?

        public init(sequence: UInt64, value: ServiceValue) {
            self.sequence = sequence
            self.id = value.id
            self.contentType = value.contentType
            self.attributes = value.attributes
            self.body = Data(value.body)
            self.trace = value.trace.isEmpty ? nil : value.trace
        }

        /// The value it carries.
        public var value: ServiceValue {
            var value = ServiceValue(id: id, contentType: contentType, body: Array(body), attributes: attributes)
            value.trace = trace ?? []
            return value
        }
    }

    /// `events` (values in emission order) or `state` (the whole state for this wire).
    public var kind: String
    public var values: [Entry]

    public init(kind: String, values: [Entry]) {
        self.kind = kind
        self.values = values
    }

    /// Reads a batch. - Throws: ``ServicePlatformError`` (``ServicePlatformError/Code/invalidValue``).
    public static func decode(_ bytes: [UInt8]) throws(ServicePlatformError) -> ServiceValueBatch {
        do {
            return try JSONDecoder().decode(ServiceValueBatch.self, from: Data(bytes))
        } catch {
            throw ServicePlatformError(.invalidValue, "not an \(contentType) body: \(error)")
        }
    }

    /// The JSON bytes.
    public var bytes: [UInt8] { sdpJSON(self) }
}

// MARK: - Deploying

/// The MESSAGE a deployer sends each host (`application/smf-deploy+json`): the composition, its revision and
/// where every service runs. A host commits it before it answers 200; the same revision again changes nothing.
public struct ServiceDeployment: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-deploy+json"

    /// The application (composition name).
    public var application: String
    /// Grows by one with every change of placements; hosts ignore older ones.
    public var revision: Int
    /// The deployer's address of record (owner of the application; notices go there).
    public var deployer: String
    /// The file the composition came from (for diagnostics).
    public var fileName: String
    /// The composition text.
    public var composition: String
    /// Service id → address of record of the node that runs it.
    public var placements: [String: String]

    public init(application: String, revision: Int, deployer: String, fileName: String, composition: String, placements: [String: String]) {
        self.application = application
        self.revision = revision
        self.deployer = deployer
        self.fileName = fileName
        self.composition = composition
        self.placements = placements
    }
}

/// The MESSAGE that removes an application from a host (`application/smf-undeploy+json`).
public struct ServiceUndeployment: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-undeploy+json"
    public var application: String
    public var deployer: String

    public init(application: String, deployer: String) {
        self.application = application
        self.deployer = deployer
    }
}

/// A notice for an application's owner (`application/smf-notice+json`), from a component or a host.
public struct ServiceNotice: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-notice+json"
    public var application: String
    /// The service it concerns, if one.
    public var service: String?
    public var text: String
    /// Seconds since 1970, when it was raised.
    public var time: Double

    public init(application: String, service: String?, text: String, time: Double) {
        self.application = application
        self.service = service
        self.text = text
        self.time = time
    }
}

// MARK: - Watching

/// What a host reports about one application through the `smf-app` package (`application/smf-app+json`).
public struct ServiceHostStatus: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-app+json"
    /// The package name.
    public static let package = "smf-app"

    /// One instance on the host.
    public struct Instance: Codable, Sendable, Hashable {
        public var service: String
        public var type: String
        /// `running`, `starting`, `failed: …`.
        public var state: String
        /// What the component says about itself (``ServiceComponent/summary()``), if anything.
        public var summary: String?

        public init(service: String, type: String, state: String, summary: String?) {
            self.service = service
            self.type = type
            self.state = state
            self.summary = summary
        }
    }

    /// One end of a wire on the host.
    public struct WireEnd: Codable, Sendable, Hashable {
        public var wire: String
        /// `producer` or `consumer`.
        public var role: String
        /// The subscription's state at this end: `active`, `subscribing`, `refused 403`, `none`, …
        public var state: String
        /// Producer: the sequence number acknowledged by the consumer. Consumer: values received.
        public var acknowledged: UInt64
        /// Producer: values waiting for the consumer's acknowledgement.
        public var pending: Int

        public init(wire: String, role: String, state: String, acknowledged: UInt64, pending: Int) {
            self.wire = wire
            self.role = role
            self.state = state
            self.acknowledged = acknowledged
            self.pending = pending
        }
    }

    public var application: String
    public var revision: Int
    public var instances: [Instance]
    public var wires: [WireEnd]

    public init(application: String, revision: Int, instances: [Instance], wires: [WireEnd]) {
        self.application = application
        self.revision = revision
        self.instances = instances
        self.wires = wires
    }
}

/// Encodes `value` as JSON bytes with sorted keys, so equal values give equal bytes.
func sdpJSON(_ value: some Encodable) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? Array(encoder.encode(value))) ?? []
}

/// Decodes JSON bytes. - Throws: ``ServicePlatformError/Code/invalidValue`` naming `what`.
func sdpDecode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ServicePlatformError) -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(bytes))
    } catch {
        throw ServicePlatformError(.invalidValue, "\(what) is not valid: \(error)")
    }
}
