import Foundation
import SMFNode
import Testing

/// `smf run` without `--bootstrap` finds its ring by local discovery (SIP OPTIONS over multicast, docs/overlay.md
/// "Local discovery"). The nodes use real multicast on 127.0.0.1 and a discovery port of their own, so no other
/// test or node on the host hears them.
@Suite(.serialized) struct DiscoveryProcessTests {
    /// The discovery options of one test: loopback interface, a free port.
    func discoveryArguments(port: Int) -> [String] {
        ["--discovery-interface", "127.0.0.1", "--discovery-port", "\(port)"]
    }

    /// Polls the nodes' `smf overlay status` until they form one ring; returns the last statuses.
    func waitForOneRing(_ nodes: [OverlayProcess], within limit: Duration) async throws -> (formed: Bool, statuses: [OverlayStatusReport]) {
        var statuses: [OverlayStatusReport] = []
        let formed = try await pollUntil(within: limit) {
            statuses = []
            for node in nodes {
                guard let status = try await node.overlayStatus() else { return false }
                statuses.append(status)
            }
            return formsOneRing(statuses, ids: statuses.map(\.node.id))
        }
        return (formed, statuses)
    }

    func ringPicture(_ statuses: [OverlayStatusReport]) -> String {
        statuses.map { "\($0.node.id.prefix(8)) → \($0.successors.first?.id.prefix(8) ?? "-") pred \($0.predecessor?.id.prefix(8) ?? "-")" }
            .joined(separator: ", ")
    }

    @Test func threeNodesStartedTogetherWithoutBootstrapFormOneRing() async throws {
        let arguments = discoveryArguments(port: try FreePorts.reserve())
        var nodes: [OverlayProcess] = []
        defer { for node in nodes { node.cleanUp() } }
        // Started back to back: each queries while the others have no ring yet, so each may start one alone;
        // the lone nodes keep querying and merge.
        for _ in 0..<3 { nodes.append(try await OverlayProcess(extraArguments: arguments)) }

        let (formed, statuses) = try await waitForOneRing(nodes, within: .seconds(40))
        #expect(formed, "no single ring of 3: \(ringPicture(statuses))")
        guard formed else { return }

        // A record put through one node is got through the others.
        let put = try await nodes[0].smf(["overlay", "put", "hall-light", "on"])
        #expect(put.status == 0, "\(put.output)")
        for node in nodes.dropFirst() {
            let get = try await node.smf(["overlay", "get", "hall-light"])
            #expect(get.status == 0, "\(get.output)")
            #expect(get.output == "on\n")
        }
        // Each node stored its registration while still alone; once in company it stores what it holds again, so
        // every registration is found through every other node.
        for (index, node) in nodes.enumerated() {
            let reader = nodes[(index + 1) % nodes.count]
            var output = ""
            let found = try await pollUntil(within: .seconds(15)) {
                output = try await reader.smf(["overlay", "lookup", node.addressOfRecord]).output
                return output == "\(node.addressOfRecord)\n"
            }
            #expect(found, "lookup \(node.addressOfRecord) via \(reader.address): \(output)")
        }
    }

    @Test func nodesStartedLaterJoinTheRingTheyFindAndServeItsRecords() async throws {
        let arguments = discoveryArguments(port: try FreePorts.reserve())
        let first = try await OverlayProcess(extraArguments: arguments)
        var nodes = [first]
        defer { for node in nodes { node.cleanUp() } }
        let alone = try await pollUntil(within: .seconds(20)) { try await first.overlayStatus()?.phase == "joined" }
        #expect(alone)
        // Records stored while the first node is alone in its ring.
        let names = (0..<6).map { "meter-\($0)" }
        for name in names {
            let put = try await first.smf(["overlay", "put", name, "reading of \(name)"])
            #expect(put.status == 0, "\(put.output)")
        }
        for _ in 0..<2 { nodes.append(try await OverlayProcess(extraArguments: arguments)) }

        let (formed, statuses) = try await waitForOneRing(nodes, within: .seconds(40))
        #expect(formed, "no single ring of 3: \(ringPicture(statuses))")
        guard formed else { return }
        // Every record is found through the nodes that joined later.
        for (index, name) in names.enumerated() {
            let reader = nodes[1 + index % 2]
            let get = try await reader.smf(["overlay", "get", name])
            #expect(get.output == "reading of \(name)\n", "get \(name) via \(reader.address): \(get.output)")
        }
    }

    @Test func nodesWithDiscoveryOffOrOnLoopbackWithoutAnInterfaceStayAlone() async throws {
        let port = try FreePorts.reserve()
        var nodes: [OverlayProcess] = []
        defer { for node in nodes { node.cleanUp() } }
        // Two with the discovery interface and port, but --no-discovery; two with only the port (a loopback node
        // discovers only with an explicit interface). Were either rule broken, a pair would find each other.
        for _ in 0..<2 { nodes.append(try await OverlayProcess(extraArguments: discoveryArguments(port: port) + ["--no-discovery"])) }
        for _ in 0..<2 { nodes.append(try await OverlayProcess(extraArguments: ["--discovery-port", "\(port)"])) }
        // Long enough for several rounds of queries by nodes alone (every 2 stabilisation periods of 500 ms).
        try await Task.sleep(for: .seconds(6))
        for node in nodes {
            let status = try #require(try await node.overlayStatus())
            #expect(status.phase == "joined")
            #expect(status.successors.isEmpty && status.predecessor == nil, "\(node.address) found company: \(status.successors)")
        }
    }
}
