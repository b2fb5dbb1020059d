import Foundation
import Logging
import ServicePlatform
import Testing

@testable import Storage

// The service runtime's state (issue 6): deployments committed before they are acknowledged, durable outboxes with
// their wires' cursors, input ids and instance blobs, all read back after the database is reopened.

private struct ServiceDataDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "smf-sdp-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private let logger: Logger = {
    var logger = Logger(label: "smf.storage.sdp.test")
    logger.logLevel = .critical
    return logger
}()

private func deployment(_ name: String, revision: Int) -> ServiceDeployment {
    ServiceDeployment(
        application: name, revision: revision, deployer: "sip:alice@127.0.0.1:5070", fileName: "\(name).xml", composition: "<composition/>",
        placements: ["src": "sip:alice@127.0.0.1:5070", "sink": "sip:carol@127.0.0.1:5072"])
}

private func record(_ sequence: UInt64, port: String = "values") -> ServiceOutboxRecord {
    ServiceOutboxRecord(
        application: "chain", service: "src", port: port, sequence: sequence,
        value: ServiceValue(id: "chain.src.\(sequence)", contentType: "application/smf-probe+json", text: "{\"n\":\(sequence)}", attributes: ["source": "chain.src"]))
}

@Test func deploymentsHostedApplicationsAndNoticesSurviveReopeningTheDatabase() async throws {
    let directory = try ServiceDataDirectory()
    do {
        let store = SQLiteServiceStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        try store.saveDeployedApplication(DeployedApplication(deployment: deployment("chain", revision: 1), placementRules: ["src": "local"], deployedAt: 5))
        try store.saveDeployedApplication(
            DeployedApplication(deployment: deployment("chain", revision: 2), placementRules: ["src": "local"], retiredHosts: ["sip:bob@127.0.0.1:5071"], deployedAt: 5))
        try store.saveHostedApplication(deployment("chain", revision: 2))
        try store.addNotice(ServiceNotice(application: "chain", service: "mid", text: "service mid is down", time: 7))
    }
    let store = SQLiteServiceStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    let deployed = try store.deployedApplications()
    #expect(deployed.map(\.deployment.revision) == [2])
    #expect(deployed.first?.retiredHosts == ["sip:bob@127.0.0.1:5071"])
    #expect(try store.hostedApplications() == [deployment("chain", revision: 2)])
    #expect(try store.notices(application: "chain", limit: 10).map(\.text) == ["service mid is down"])

    try store.deleteDeployedApplication(named: "chain")
    #expect(try store.deployedApplications().isEmpty)
    #expect(try store.notices(application: nil, limit: 10).isEmpty)
}

@Test func anAcknowledgementMovesTheCursorAndDropsWhatEveryWireHasInOneTransaction() async throws {
    let directory = try ServiceDataDirectory()
    do {
        let store = SQLiteServiceStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        try store.saveHostedApplication(deployment("chain", revision: 1))
        try store.appendOutbox((1...5).map { record($0) })
        try store.acknowledge(application: "chain", wire: "w1", sequence: 3, service: "src", port: "values", pruneThrough: 2)
        // A cursor never goes back.
        try store.acknowledge(application: "chain", wire: "w1", sequence: 1, service: "src", port: "values", pruneThrough: 1)
    }
    let store = SQLiteServiceStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    let waiting = try store.outbox(application: "chain")
    #expect(waiting.map(\.sequence) == [3, 4, 5])
    #expect(waiting.first?.value == record(3).value)
    #expect(try store.wireCursors(application: "chain") == ["w1": 3])
    #expect(try store.outboxSequences(application: "chain") == ["src.values": 5])

    // Numbers stay known after every value left the outbox.
    try store.acknowledge(application: "chain", wire: "w1", sequence: 5, service: "src", port: "values", pruneThrough: 5)
    #expect(try store.outbox(application: "chain").isEmpty)
    #expect(try store.outboxSequences(application: "chain") == ["src.values": 5])
}

@Test func inputIDsKeepTheNewestAndInstanceBlobsAreReplaced() async throws {
    let store = SQLiteServiceStore(database: try SMFDatabase.inMemory(logger: logger))
    try store.addSeenInputs(application: "chain", service: "sink", ids: ["a", "b", "c"], keep: 4)
    try store.addSeenInputs(application: "chain", service: "sink", ids: ["d", "e"], keep: 4)
    #expect(try store.seenInputs(application: "chain", service: "sink", limit: 10) == ["b", "c", "d", "e"])
    #expect(try store.seenInputs(application: "chain", service: "sink", limit: 2) == ["d", "e"])

    try store.saveInstanceData(application: "chain", service: "sink", data: [1, 2])
    try store.saveInstanceData(application: "chain", service: "sink", data: [3])
    #expect(try store.instanceData(application: "chain", service: "sink") == [3])
    #expect(try store.instanceData(application: "chain", service: "src") == nil)
}

@Test func removingAnInstanceOrAnApplicationDeletesEverythingItKept() async throws {
    let store = SQLiteServiceStore(database: try SMFDatabase.inMemory(logger: logger))
    try store.saveHostedApplication(deployment("chain", revision: 1))
    try store.appendOutbox([record(1), record(2)])
    try store.acknowledge(application: "chain", wire: "w1", sequence: 1, service: "src", port: "values", pruneThrough: 0)
    try store.addSeenInputs(application: "chain", service: "src", ids: ["x"], keep: 10)
    try store.saveInstanceData(application: "chain", service: "src", data: [9])
    try store.saveInstanceData(application: "chain", service: "sink", data: [8])

    try store.deleteInstance(application: "chain", service: "src")
    #expect(try store.outbox(application: "chain").isEmpty)
    #expect(try store.seenInputs(application: "chain", service: "src", limit: 10).isEmpty)
    #expect(try store.instanceData(application: "chain", service: "src") == nil)
    #expect(try store.instanceData(application: "chain", service: "sink") == [8])

    try store.deleteHostedApplication(named: "chain")
    #expect(try store.hostedApplications().isEmpty)
    #expect(try store.wireCursors(application: "chain").isEmpty)
    #expect(try store.instanceData(application: "chain", service: "sink") == nil)
}
