// What the service runtime keeps across restarts (docs/services.md, last section). The node implements it over
// its SQLite database (Storage.SQLiteServiceStore); tests use ServiceMemoryStore.

import Foundation

/// An application this node deployed: the composition, its current revision and placements, and the hosts that
/// ran part of it before and still have to be told they no longer do.
public struct DeployedApplication: Codable, Sendable, Hashable {
    /// What every host gets.
    public var deployment: ServiceDeployment
    /// Service id → its placement as written (`local`, `any`, `peer:NAME`).
    public var placementRules: [String: String]
    /// Hosts that no longer run anything of it and have not confirmed the removal yet.
    public var retiredHosts: [String]
    /// Seconds since 1970, when it was first deployed.
    public var deployedAt: Double

    public init(deployment: ServiceDeployment, placementRules: [String: String], retiredHosts: [String] = [], deployedAt: Double) {
        self.deployment = deployment
        self.placementRules = placementRules
        self.retiredHosts = retiredHosts
        self.deployedAt = deployedAt
    }

    /// The application's name.
    public var name: String { deployment.application }
}

/// One value waiting in a durable component's outbox.
public struct ServiceOutboxRecord: Sendable, Hashable {
    public var application: String
    public var service: String
    public var port: String
    public var sequence: UInt64
    public var value: ServiceValue

    public init(application: String, service: String, port: String, sequence: UInt64, value: ServiceValue) {
        self.application = application
        self.service = service
        self.port = port
        self.sequence = sequence
        self.value = value
    }
}

/// Where a component keeps the little state it needs across restarts (e.g. a counter), one blob per instance.
/// The node hands it to the factories that need it; the runtime deletes it when the instance is undeployed.
public protocol ServiceInstanceDataStore: Sendable {
    /// The blob of an instance, or nil.
    func instanceData(application: String, service: String) throws -> [UInt8]?
    /// Replaces the blob of an instance, durably.
    func saveInstanceData(application: String, service: String, data: [UInt8]) throws
}

/// The runtime's durable state. Every call is one transaction and durable when it returns: the runtime answers
/// 200 (to a deploy MESSAGE, to a NOTIFY carrying values) only after the call that commits it returned.
public protocol ServiceRuntimeStore: ServiceInstanceDataStore {
    // Deployer side.
    func deployedApplications() throws -> [DeployedApplication]
    func saveDeployedApplication(_ application: DeployedApplication) throws
    func deleteDeployedApplication(named name: String) throws
    func notices(application: String?, limit: Int) throws -> [ServiceNotice]
    func addNotice(_ notice: ServiceNotice) throws

    // Host side.
    func hostedApplications() throws -> [ServiceDeployment]
    func saveHostedApplication(_ deployment: ServiceDeployment) throws
    /// Deletes the application and everything its instances kept (outboxes, cursors, input ids, blobs).
    func deleteHostedApplication(named name: String) throws
    /// Deletes what one instance kept (it moved to another host or left the composition).
    func deleteInstance(application: String, service: String) throws

    /// Durable outboxes.
    func appendOutbox(_ records: [ServiceOutboxRecord]) throws
    func outbox(application: String) throws -> [ServiceOutboxRecord]
    /// The last sequence number each port of the application used (also for values no longer waiting).
    func outboxSequences(application: String) throws -> [String: UInt64]
    /// Records that the consumer of `wire` acknowledged through `sequence`, and drops the port's values up to
    /// `pruneThrough` (every wire of the port has them), in one transaction.
    func acknowledge(application: String, wire: String, sequence: UInt64, service: String, port: String, pruneThrough: UInt64) throws
    /// Wire id → acknowledged sequence number, for the application's producing wires.
    func wireCursors(application: String) throws -> [String: UInt64]

    /// Input ids a durable instance took, newest last (at most `limit`).
    func seenInputs(application: String, service: String, limit: Int) throws -> [String]
    /// Records input ids a durable instance took, keeping the newest `keep`.
    func addSeenInputs(application: String, service: String, ids: [String], keep: Int) throws
}

/// A ``ServiceRuntimeStore`` in memory: for tests, and for nodes that must not write.
public final class ServiceMemoryStore: ServiceRuntimeStore, @unchecked Sendable {
    // Guarded by `lock`.
    private var deployed: [String: DeployedApplication] = [:]
    private var noticeList: [ServiceNotice] = []
    private var hosted: [String: ServiceDeployment] = [:]
    private var outboxes: [String: [ServiceOutboxRecord]] = [:]
    private var sequences: [String: [String: UInt64]] = [:]
    private var cursors: [String: [String: UInt64]] = [:]
    private var seen: [String: [String]] = [:]
    private var blobs: [String: [UInt8]] = [:]
    private let lock = NSLock()

    public init() {}

    private func key(_ application: String, _ service: String) -> String { "\(application)\u{0}\(service)" }

    public func deployedApplications() throws -> [DeployedApplication] {
        lock.withLock { deployed.values.sorted { $0.name < $1.name } }
    }

    public func saveDeployedApplication(_ application: DeployedApplication) throws {
        lock.withLock { deployed[application.name] = application }
    }

    public func deleteDeployedApplication(named name: String) throws {
        lock.withLock {
            deployed[name] = nil
            noticeList.removeAll { $0.application == name }
        }
    }

    public func notices(application: String?, limit: Int) throws -> [ServiceNotice] {
        lock.withLock { Array(noticeList.filter { application == nil || $0.application == application }.suffix(limit)) }
    }

    public func addNotice(_ notice: ServiceNotice) throws {
        lock.withLock { noticeList.append(notice) }
    }

    public func hostedApplications() throws -> [ServiceDeployment] {
        lock.withLock { hosted.values.sorted { $0.application < $1.application } }
    }

    public func saveHostedApplication(_ deployment: ServiceDeployment) throws {
        lock.withLock { hosted[deployment.application] = deployment }
    }

    public func deleteHostedApplication(named name: String) throws {
        lock.withLock {
            hosted[name] = nil
            outboxes[name] = nil
            sequences[name] = nil
            cursors[name] = nil
            let prefix = key(name, "")
            for id in seen.keys where id.hasPrefix(prefix) { seen[id] = nil }
            for id in blobs.keys where id.hasPrefix(prefix) { blobs[id] = nil }
        }
    }

    public func deleteInstance(application: String, service: String) throws {
        lock.withLock {
            outboxes[application]?.removeAll { $0.service == service }
            for port in (sequences[application] ?? [:]).keys where port.hasPrefix("\(service).") { sequences[application]?[port] = nil }
            seen[key(application, service)] = nil
            blobs[key(application, service)] = nil
        }
    }

    public func appendOutbox(_ records: [ServiceOutboxRecord]) throws {
        lock.withLock {
            for record in records {
                outboxes[record.application, default: []].append(record)
                let port = "\(record.service).\(record.port)"
                sequences[record.application, default: [:]][port] = max(sequences[record.application]?[port] ?? 0, record.sequence)
            }
        }
    }

    public func outbox(application: String) throws -> [ServiceOutboxRecord] {
        lock.withLock { outboxes[application] ?? [] }
    }

    public func outboxSequences(application: String) throws -> [String: UInt64] {
        lock.withLock { sequences[application] ?? [:] }
    }

    public func acknowledge(application: String, wire: String, sequence: UInt64, service: String, port: String, pruneThrough: UInt64) throws {
        lock.withLock {
            cursors[application, default: [:]][wire] = sequence
            outboxes[application]?.removeAll { $0.service == service && $0.port == port && $0.sequence <= pruneThrough }
        }
    }

    public func wireCursors(application: String) throws -> [String: UInt64] {
        lock.withLock { cursors[application] ?? [:] }
    }

    public func seenInputs(application: String, service: String, limit: Int) throws -> [String] {
        lock.withLock { Array((seen[key(application, service)] ?? []).suffix(limit)) }
    }

    public func addSeenInputs(application: String, service: String, ids: [String], keep: Int) throws {
        lock.withLock {
            var list = seen[key(application, service)] ?? []
            list.append(contentsOf: ids)
            if list.count > keep { list.removeFirst(list.count - keep) }
            seen[key(application, service)] = list
        }
    }

    public func instanceData(application: String, service: String) throws -> [UInt8]? {
        lock.withLock { blobs[key(application, service)] }
    }

    public func saveInstanceData(application: String, service: String, data: [UInt8]) throws {
        lock.withLock { blobs[key(application, service)] = data }
    }
}
