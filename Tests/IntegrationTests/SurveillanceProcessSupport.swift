import Foundation
import ServicePlatform
import SMFNode
import Testing

/// A building-surveillance application on real `smf run` processes on 127.0.0.1, each with its own data directory
/// (issue 7): one node per service of the composition, supporters' own nodes, a community with its sub-community
/// (formed through `smf community` and `smf sub`) or open scopes (`--scope`), the composition deployed with
/// `smf deploy`, supporters registered with `smf supporter`, readings with `smf sensor report`.
final class SurveillanceCluster {
    static let community = "north-street"
    static let sub = "surveillance/north-street"
    static let scope = "\(community)/\(sub)"
    /// Every node is in the street: the recorder's `<where area="north-street"/>` constraint asks for it (smf run --area).
    static let area = "north-street"
    /// House 12 (where the readings say it is).
    static let house = "52.5200,13.4050"

    /// One node: its name (`--user`), offered types and other `smf run` options.
    struct Spec {
        var name: String
        var offers: [String] = []
        var extra: [String] = []
    }

    /// The service nodes of a composition of the seven services: house-12 (recorder, simulated sensors, the
    /// deployer) and one node per type placed `any`.
    static let serviceNodes: [Spec] = [
        Spec(name: "house-12"),
        Spec(name: "registry", offers: ["supporter-registry"]),
        Spec(name: "availability", offers: ["supporter-availability"]),
        Spec(name: "forwarder", offers: ["sensor-forwarder"]),
        Spec(name: "evaluator", offers: ["event-evaluator"]),
        Spec(name: "selector", offers: ["supporter-selector"]),
        Spec(name: "notifier", offers: ["supporter-notifier"]),
    ]

    /// A supporter's node answering alarms by itself (`--alarm-auto-answer`).
    static func supporter(_ name: String, answers: String) -> Spec {
        Spec(name: name, extra: ["--alarm-auto-answer", answers])
    }

    let inCommunity: Bool
    private(set) var nodes: [String: OverlayProcess] = [:]
    private(set) var order: [String] = []

    /// Starts the nodes (the first is the bootstrap of the others); `community`: no `--scope`, the community is formed
    /// by ``formCommunity()``; else every node takes part in the sub-community through `--scope`.
    init(_ specs: [Spec], community: Bool, everyNode extra: [String] = []) async throws {
        inCommunity = community
        do {
            for spec in specs {
                let bootstrap = order.first.flatMap { nodes[$0] }.map { [$0.address] } ?? []
                let node = try await OverlayProcess(
                    bootstrap: bootstrap, stabilizeMs: 1000, timeoutMs: 1000,
                    extraArguments: ["--user", spec.name, "--area", Self.area] + (community ? [] : ["--scope", Self.scope]) + spec.offers.flatMap { ["--offer", $0] }
                        + spec.extra + extra)
                nodes[spec.name] = node
                order.append(spec.name)
            }
        } catch {
            cleanUp()
            throw error
        }
    }

    subscript(_ name: String) -> OverlayProcess {
        get throws { try #require(nodes[name], "no node \(name)") }
    }

    /// `sip:NAME@127.0.0.1:PORT`.
    func addressOfRecord(_ name: String) throws -> String { "sip:\(name)@127.0.0.1:\(try self[name].port)" }

    /// The instance URI of a service placed on node `host`.
    func instanceURI(application: String, service: String, on host: String) throws -> String {
        "sip:\(application).\(service)@127.0.0.1:\(try self[host].port)"
    }

    /// Starts one more node (bootstrapping through the first).
    func add(_ spec: Spec, extra: [String] = []) async throws -> OverlayProcess {
        let first = try self[order[0]]
        let node = try await OverlayProcess(
            bootstrap: [first.address], stabilizeMs: 1000, timeoutMs: 1000,
            extraArguments: ["--user", spec.name, "--area", Self.area] + (inCommunity ? [] : ["--scope", Self.scope]) + spec.offers.flatMap { ["--offer", $0] } + spec.extra
                + extra)
        nodes[spec.name] = node
        order.append(spec.name)
        return node
    }

    /// The first node founds the community, every other node joins with an invitation, the community's ring settles,
    /// the first node creates the (open) sub-community and every other node joins it: the real CLI all the way.
    func formCommunity() async throws {
        let founder = try self[order[0]]
        try await founder.succeed(["community", "create", Self.community])
        let others = try order.dropFirst().map { try self[$0] }
        for node in others {
            let token = try await founder.invitation()
            let joined = try await node.succeed(["community", "join", token, "--bootstrap", founder.address])
            #expect(joined.contains("joined community \"\(Self.community)\""), "\(joined)")
        }
        let everyone = [founder] + others
        let formed = try await pollUntil(within: .seconds(45)) { try await communityRingFormed(everyone, community: Self.community) }
        try #require(formed, "the community's ring did not form")
        #expect(try await founder.succeed(["sub", "create", Self.sub]).contains("created sub-community \(Self.sub) in \(Self.community)"))
        for node in others {
            let joined = try await pollUntil(within: .seconds(20), every: .milliseconds(500)) {
                (try await node.smf(["sub", "join", Self.sub])).output.contains("member of \(Self.sub)")
            }
            try #require(joined, "a node could not join \(Self.sub)")
        }
    }

    /// `text` written to a file and deployed from house-12 with `smf deploy` (retried while the overlay does not yet
    /// hold every provider's record); fails the test unless every wire becomes active.
    @discardableResult
    func deploy(_ text: String, named name: String, from deployer: String = "house-12") async throws -> ServiceApplicationView {
        let file = try ServiceDeployProcessTests.write(text, named: name)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ServiceDeployProcessTests.deploy(file, on: try self[deployer], within: .seconds(60))
        try #require(result.status == 0, "smf deploy failed: \(result.output)")
        #expect(result.output.contains("wires active after"), "\(result.output)")
        let application = try #require(result.output.split(separator: "\n").first?.split(separator: " ").dropFirst().first.map(String.init))
        return try #require(try await ServiceDeployProcessTests.show(try self[deployer], application))
    }

    /// A composition of Services/building-surveillance, with `replacements` applied (e.g. a shorter accept timeout).
    static func composition(_ file: String, _ replacements: [(String, String)] = []) throws -> String {
        var text = try String(contentsOf: packageRoot.appendingPathComponent("Services/building-surveillance/\(file)"), encoding: .utf8)
        for (old, new) in replacements {
            try #require(text.contains(old), "\(file) has no \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        return text
    }

    /// `smf supporter register` then `smf supporter availability` on `name`'s node (retried while the node does not
    /// yet know every member's address, which a fresh member learns within a stabilisation period or two).
    func register(
        _ name: String, application: String, kinds: String = "fire", buildings: String = "*", location: String?, phone: [String] = []
    ) async throws {
        let node = try self[name]
        let registered = try await pollUntil(within: .seconds(20), every: .milliseconds(500)) {
            let result = try await node.smf(["supporter", "register", "--app", application, "--kinds", kinds, "--buildings", buildings] + phone)
            return result.status == 0
        }
        if !registered {
            let last = try await node.smf(["supporter", "register", "--app", application, "--kinds", kinds, "--buildings", buildings] + phone)
            Issue.record("\(name) could not register: \(last.output)")
            throw ProcessTestError(description: "\(name) could not register")
        }
        guard let location else { return }
        let reported = try await pollUntil(within: .seconds(20), every: .milliseconds(500)) {
            try await node.smf(["supporter", "availability", "--app", application, "--status", "open", "--location", location]).status == 0
        }
        try #require(reported, "\(name) could not report availability")
    }

    /// Waits until the selector knows `count` supporters (with availability where given) and every smf-node
    /// supporter among `watchers` watches its alarm resource (variant 1).
    func waitForSupporters(_ count: Int, withAvailability: Int, application: String, watchers: [String]) async throws {
        let ready = try await pollUntil(within: .seconds(30)) {
            let view = try await ServiceDeployProcessTests.show(try self["house-12"], application)
            guard view?.services.first(where: { $0.id == "selector" })?.summary?.hasPrefix(
                "\(count) supporter\(count == 1 ? "" : "s") registered, \(withAvailability) with availability") == true
            else { return false }
            for watcher in watchers {
                let rows = try await self[watcher].smf(["subscriptions"]).output
                guard rows.split(separator: "\n").contains(where: { $0.hasPrefix("subscriber") && $0.contains("m2m-alarm") && $0.contains("active") }) else {
                    return false
                }
            }
            return true
        }
        let view = try await ServiceDeployProcessTests.show(try self["house-12"], application)
        try #require(ready, "supporters not ready: \(String(describing: view?.services.map { "\($0.id): \($0.summary ?? "-")" }))")
    }

    /// `smf sensor report` from `node`; fails the test unless the recorder answered 200.
    func report(_ sensor: String, value: Double, building: String = "house-12", application: String, from node: String = "house-12") async throws {
        let output = try await self[node].succeed(
            ["sensor", "report", "--app", application, "--id", sensor, "--building", building, "--value", "\(value)", "--location", Self.house])
        #expect(output.hasPrefix("200 OK from sip:\(application).recorder@"), "\(output)")
    }

    /// The notifier node's alarms (`smf alarms --json`).
    func alarms(on node: String = "notifier") async throws -> [AlarmSummary] {
        let result = try await self[node].smf(["alarms", "--json"])
        guard result.status == 0 else { return [] }
        return (try? JSONDecoder().decode([AlarmSummary].self, from: Data(result.output.utf8))) ?? []
    }

    /// Waits until `count` alarms are accepted on the notifier's node; returns them.
    func acceptedAlarms(_ count: Int = 1, within limit: Duration = .seconds(60), on node: String = "notifier") async throws -> [AlarmSummary] {
        _ = try await pollUntil(within: limit) { try await self.alarms(on: node).filter { $0.state == "accepted" }.count >= count }
        let alarms = try await self.alarms(on: node)
        try #require(alarms.filter { $0.state == "accepted" }.count >= count, "alarms: \(alarms)")
        return alarms
    }

    /// `smf alarms --show ID` on the notifier's node.
    func show(_ id: String, on node: String = "notifier") async throws -> String {
        try await self[node].succeed(["alarms", "--show", id])
    }

    /// A supporter's inbox (`smf alarm inbox --json`).
    func inbox(_ name: String) async throws -> [InboxAlarm] {
        let output = try await self[name].succeed(["alarm", "inbox", "--json"])
        return output.split(separator: "\n").compactMap { try? JSONDecoder().decode(InboxAlarm.self, from: Data($0.utf8)) }
    }

    /// Starts `smf ARGUMENTS --data <name's node>` that runs until stopped (`--follow`); returns it and what it prints.
    func follow(_ name: String, _ arguments: [String]) throws -> (process: Process, output: OutputBuffer) {
        let process = Process()
        process.executableURL = smfBinary()
        process.arguments = arguments + ["--data", try self[name].dataDirectory.path]
        let pipe = Pipe()
        let output = OutputBuffer()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        followers.append(process)
        return (process, output)
    }

    private var followers: [Process] = []

    /// Stops every node and removes its data directory.
    func cleanUp() {
        for process in followers where process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        for node in nodes.values { node.cleanUp() }
    }
}
