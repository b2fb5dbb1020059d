import Foundation
import Logging
import Overlay
import SMFNode
import Storage
import Testing

/// `smf run` processes forming one overlay ring on 127.0.0.1 (issue 4 "What it must show").
@Suite(.serialized) struct OverlayRingProcessTests {
    @Test func twelveNodesFormOneRingAndKeepEveryRecordWhenThreeAdjacentNodesAreKilled() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let first = try await OverlayProcess()
        var nodes = [first]
        defer { for node in nodes { node.cleanUp() } }
        for _ in 1..<12 {
            nodes.append(try await OverlayProcess(bootstrap: [first.address]))
        }

        // One ring over all 12, checked through `smf overlay status`.
        var statuses: [OverlayStatusReport] = []
        let formed = try await pollUntil(within: .seconds(40)) {
            statuses = []
            for node in nodes {
                guard let status = try await node.overlayStatus() else { return false }
                statuses.append(status)
            }
            return formsOneRing(statuses, ids: statuses.map(\.node.id))
        }
        #expect(formed, "no single ring of 12; statuses: \(statuses.map { "\($0.node.id.prefix(8)) → \($0.successors.first?.id.prefix(8) ?? "-") pred \($0.predecessor?.id.prefix(8) ?? "-")" })")
        guard formed else { return }
        let ringFormed = clock.now

        // 30 records through various nodes.
        let names = (0..<30).map { "meter-\($0)" }
        for (index, name) in names.enumerated() {
            let put = try await nodes[index % nodes.count].smf(["overlay", "put", name, "reading \(index)"])
            #expect(put.status == 0, "put \(name): \(put.output)")
        }

        // Every node's registration is in the ring before any node is killed (a registration stored while the ring
        // was forming may have needed a second attempt).
        var unregistered: [String] = []
        let registered = try await pollUntil(within: .seconds(30)) {
            unregistered = []
            for (index, node) in nodes.enumerated() {
                let lookup = try await nodes[(index + 1) % nodes.count].smf(["overlay", "lookup", node.addressOfRecord])
                if lookup.output != "\(node.addressOfRecord)\n" { unregistered.append(node.addressOfRecord) }
            }
            return unregistered.isEmpty
        }
        #expect(registered, "not registered before the kills: \(unregistered)")

        // Kill three nodes adjacent on the ring (by Node-ID order).
        let ordered = nodes.sorted { ($0.nodeID(in: statuses) ?? "") < ($1.nodeID(in: statuses) ?? "") }
        let victims = Array(ordered[4..<7])
        for victim in victims { try await victim.stop(with: SIGKILL) }
        let killed = clock.now
        let survivors = nodes.filter { node in !victims.contains { $0 === node } }
        #expect(survivors.count == 9)

        // Repair: the 9 survivors form one ring again.
        let repaired = try await pollUntil(within: .seconds(40)) {
            statuses = []
            for node in survivors {
                guard let status = try await node.overlayStatus() else { return false }
                statuses.append(status)
            }
            return formsOneRing(statuses, ids: statuses.map(\.node.id))
        }
        #expect(repaired, "the survivors did not repair the ring")
        print("overlay ring: 12 processes formed one ring \(ringFormed - started) after the first start; 9 survivors repaired it \(clock.now - killed) after the SIGKILLs")

        // Every record is still found, asked through every survivor in turn.
        for (index, name) in names.enumerated() {
            let reader = survivors[index % survivors.count]
            let get = try await reader.smf(["overlay", "get", name])
            #expect(get.status == 0, "get \(name) via \(reader.address): \(get.output)")
            #expect(get.output == "reading \(index)\n", "get \(name) via \(reader.address)")
        }
        // Every node's registration (the killed ones' too: they were stored before) is found.
        for (index, node) in nodes.enumerated() {
            let reader = survivors[index % survivors.count]
            let lookup = try await reader.smf(["overlay", "lookup", node.addressOfRecord])
            #expect(lookup.status == 0, "lookup \(node.addressOfRecord) via \(reader.address): \(lookup.output)\nvictim: \(victims.contains { $0 === node }); its log:\n\(node.standardError.suffix(4000))")
            #expect(lookup.output == "\(node.addressOfRecord)\n")
        }
        let absent = try await survivors[0].smf(["overlay", "get", "no-such-record"])
        #expect(absent.status == 1)
        #expect(absent.output.contains("no record named 'no-such-record' in the overlay"))
    }

    @Test(arguments: [SIGTERM, SIGKILL])
    func recordsSurviveARestartOfALoneNode(signal: Int32) async throws {
        let sqlite = try requireTool("sqlite3")
        let node = try await OverlayProcess()
        defer { node.cleanUp() }
        let put = try await node.smf(["overlay", "put", "valve-3", "open"])
        #expect(put.status == 0, "\(put.output)")
        let status = try #require(try await node.overlayStatus())
        // The store snapshot reaches overlay_records shortly after the put, without a shutdown.
        let database = node.dataDirectory.appendingPathComponent("smf.sqlite").path
        let saved = try await pollUntil(within: .seconds(10), every: .milliseconds(100)) {
            let rows = try await runTool(sqlite, [database, "SELECT count(*) FROM overlay_records WHERE name = 'valve-3'"])
            return rows.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        #expect(saved)
        try await node.stop(with: signal)

        let restarted = try await OverlayProcess(dataDirectory: node.dataDirectory, port: node.port)
        defer { restarted.cleanUp() }
        let again = try #require(try await restarted.overlayStatus())
        #expect(again.node.id == status.node.id)  // the identity key survived
        let found = try await pollUntil(within: .seconds(10)) {
            try await restarted.smf(["overlay", "get", "valve-3"]).output == "open\n"
        }
        #expect(found)
        let lookup = try await restarted.smf(["overlay", "lookup", restarted.addressOfRecord])
        #expect(lookup.output == "\(restarted.addressOfRecord)\n")
    }

    @Test func sigtermLeavesTheRingSoThePeerDropsTheNodeAtOnce() async throws {
        // 5 s periods and 5 s timeouts: failure detection drops a peer only after a request to it timed out, so not
        // within 5 s of the SIGTERM; only the goodbye can drop it within the 4 s allowed below (room for a loaded
        // machine: the signal, the goodbye, and an `smf overlay status` process per poll).
        let a = try await OverlayProcess(stabilizeMs: 5000, timeoutMs: 5000)
        defer { a.cleanUp() }
        let b = try await OverlayProcess(bootstrap: [a.address], stabilizeMs: 5000, timeoutMs: 5000)
        defer { b.cleanUp() }
        let joined = try await pollUntil(within: .seconds(20)) {
            guard let sa = try await a.overlayStatus(), let sb = try await b.overlayStatus() else { return false }
            return formsOneRing([sa, sb], ids: [sa.node.id, sb.node.id])
        }
        #expect(joined)
        let signalled = ContinuousClock.now
        try await b.stop(with: SIGTERM)
        let dropped = try await pollUntil(within: .seconds(4) - (ContinuousClock.now - signalled), every: .milliseconds(100)) {
            guard let status = try await a.overlayStatus() else { return false }
            return status.predecessor == nil && status.successors.isEmpty
        }
        #expect(dropped, "the leaving node's goodbye did not reach its peer within 4 s of the SIGTERM")
    }

    /// A registration the overlay refused is stored again soon, not half a lifetime (30 min) later. A takes back from
    /// its database a registration of B's address signed by B's key, with a higher sequence than B will use; B joins
    /// A's ring, A owns B's registration key and refuses B's store (stale sequence). A is then killed and restarted
    /// without that record (same port and Node-ID); the ring of the two forms again and B's next attempt is stored.
    @Test func refusedRegistrationIsStoredOnceTheOwnerTakesIt() async throws {
        let (portA, portB) = (try FreePorts.reserve(), try FreePorts.reserve())
        let aorB = "sip:smf@127.0.0.1:\(portB)"
        let key = UserRegistration.resourceID(aor: aorB).id
        var (a, b) = (try ChosenIdentity(), try ChosenIdentity())
        while !key.isBetween(b.identity.nodeID, upperInclusive: a.identity.nodeID) { (a, b) = (try ChosenIdentity(), try ChosenIdentity()) }

        let now = unixNow()
        let stale = UserRegistration(aor: aorB, contacts: ["sip:stale@127.0.0.1:9"])
            .record(sequence: UInt64(now.milliseconds) + 1_000_000_000, expiry: now.advanced(by: .seconds(3600)), by: b.identity)
        let directoryA = try a.dataDirectory()
        try await keepOverlayRecords([stale], in: directoryA)
        let nodeA = try await OverlayProcess(dataDirectory: directoryA, port: portA)
        defer { nodeA.cleanUp() }
        let restored = try await pollUntil(within: .seconds(20)) {
            try await nodeA.smf(["overlay", "lookup", aorB]).output == "sip:stale@127.0.0.1:9\n"
        }
        #expect(restored, "A did not take back the record kept in its database; A's log:\n\(nodeA.standardError.suffix(3000))")

        let nodeB = try await OverlayProcess(bootstrap: [nodeA.address], dataDirectory: try b.dataDirectory(), port: portB)
        defer { nodeB.cleanUp() }
        let refused = try await pollUntil(within: .seconds(30), every: .milliseconds(100)) {
            nodeB.standardError.contains("cannot register in the overlay")
        }
        #expect(refused, "A did not refuse B's registration; B's log:\n\(nodeB.standardError.suffix(3000))")
        guard refused else { return }

        // SIGKILL: no goodbye, which would hand the stale record to B.
        try await nodeA.stop(with: SIGKILL)
        try await keepOverlayRecords([], in: directoryA)
        let restartedA = try await OverlayProcess(dataDirectory: directoryA, port: portA)
        defer { restartedA.cleanUp() }
        let stored = try await pollUntil(within: .seconds(30)) {
            try await restartedA.smf(["overlay", "lookup", aorB]).output == "\(aorB)\n"
        }
        #expect(stored, "B's registration was not stored once A took it; B's log:\n\(nodeB.standardError.suffix(3000))")
    }

    @Test func statusShowsTheNodeIDAndRingPhase() async throws {
        let node = try await OverlayProcess()
        defer { node.cleanUp() }
        let overlay = try #require(try await node.overlayStatus())
        let status = try await node.smf(["status"])
        #expect(status.status == 0)
        #expect(status.output.contains("node-id:   \(overlay.node.id)"))
        #expect(status.output.contains("ring:      joined"))
        let text = try await node.smf(["overlay", "status"])
        #expect(text.output.contains("phase:       joined"))
        #expect(text.output.contains("aor:         \(node.addressOfRecord)"))
    }

    @Test func badBootstrapIsRejectedWithAClearMessage() async throws {
        let result = try await runTool(smfBinary(), ["run", "--data", "/tmp/unused-overlay", "--bootstrap", "sip:"], timeout: .seconds(10))
        #expect(result.status != 0)
        #expect(result.output.contains("--bootstrap: bootstrap 'sip:' is neither host:port nor a SIP URI"))
    }
}

/// Replaces the overlay records a node in `directory` takes back when it starts (its `overlay_records`).
private func keepOverlayRecords(_ records: [ResourceRecord], in directory: URL) async throws {
    let database = try SMFDatabase(directory: directory.path, logger: Logger(label: "smf.test"))
    try await database.replaceOverlayRecords(with: records)
}

/// A fresh random identity key, written into a new data directory on demand (a node started there has that Node-ID).
private struct ChosenIdentity {
    let key: [UInt8]
    let identity: NodeIdentity

    init() throws {
        key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        identity = try #require(NodeIdentity(privateKeyBytes: key))
    }

    /// A new data directory holding the key as `identity.key` (mode 0600, as the node requires).
    func dataDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-overlay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(NodeIdentity.fileName).path
        guard FileManager.default.createFile(atPath: path, contents: Data(key), attributes: [.posixPermissions: 0o600]) else {
            throw ProcessTestError(description: "cannot write \(path)")
        }
        return directory
    }
}

extension OverlayProcess {
    /// This node's Node-ID as the statuses report it (matched by address).
    func nodeID(in statuses: [OverlayStatusReport]) -> String? {
        statuses.first { $0.node.address == address }?.node.id
    }
}
