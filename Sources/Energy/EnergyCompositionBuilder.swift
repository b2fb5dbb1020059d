import Foundation

/// Writes the composition of an energy community whose households are spread over a few nodes: on each node one
/// `household-meter` and one `flexibility` service hosting that node's households (`meter-NODE`, `flex-NODE`, placed
/// `peer:NODE`), one `community-balance`, and one or more coordinators that hear each other on `peers`.
///
/// One meter and one flexibility service per node, each hosting many households, rather than one per household: a
/// node of 17 households then holds 2 instances and 2 + 2 × coordinators subscriptions instead of 34 and 17 × (2 +
/// coordinators), and a composition of 50 households stays readable. Privacy is unchanged: the meter still sends each
/// household's totals separately, and advice is filtered per node (`group`), so no node gets another node's advice.
///
/// `Services/energy-community/feeder-3-nodes.xml` is ``feeder3Nodes``; the process tests deploy what it writes.
public struct EnergyCompositionBuilder: Sendable, Hashable {
    /// A node and the households of the simulated day it hosts.
    public struct Node: Sendable, Hashable {
        /// The node's name (`smf run --user NAME`).
        public var name: String
        /// The household ids; none leaves the `household` parameter out, so that the services host the node's own
        /// households (`smf run --energy-households`).
        public var households: [String]

        public init(name: String, households: [String]) {
            self.name = name
            self.households = households
        }
    }

    /// A coordinator, the node it runs on and its priority (the lowest leads).
    public struct CoordinatorPlacement: Sendable, Hashable {
        public var id: String
        public var node: String
        public var priority: Int

        public init(id: String, node: String, priority: Int) {
            self.id = id
            self.node = node
            self.priority = priority
        }
    }

    public var name = "feeder-7-energy"
    public var community = "riverside-energy"
    public var subcommunity = "energy/feeder-7"
    public var feeder = "feeder-7"
    public var summary = "Households on feeder 7, hosted by a few nodes, share production and consumption and shift flexible loads."
    public var nodes: [Node]
    /// The node the balance service runs on.
    public var balanceNode: String
    public var coordinators: [CoordinatorPlacement]
    public var seed: UInt64 = 1
    /// Households of the simulated day.
    public var simulatedHouseholds = 50
    public var intervalMinutes = 15
    /// `time-scale` of every service; `nil` leaves the parameter out (real time).
    public var timeScale: String?
    /// `day-start` of every service (ISO 8601 UTC); `nil` leaves it out.
    public var dayStart: String?
    /// `share=detailed` on the meters (per-device readings leave the households).
    public var detailedReadings = false
    /// `failover-after` of the coordinators; `nil` leaves it out (45m).
    public var failoverAfter: String?

    /// `households` households of the seeded day dealt over `nodes` in contiguous blocks; the balance service on the
    /// first node; one coordinator per entry of `coordinatorNodes`, priorities 1, 2, …
    public init(households: Int, nodes: [String], coordinatorNodes: [String]) {
        let ids = (0..<households).map(Household.id(index:))
        let perNode = nodes.isEmpty ? 0 : (households + nodes.count - 1) / nodes.count
        self.nodes = nodes.enumerated().map { index, name in
            Node(name: name, households: Array(ids.dropFirst(index * perNode).prefix(perNode)))
        }
        self.simulatedHouseholds = households
        self.balanceNode = nodes.first ?? "local"
        self.coordinators = coordinatorNodes.enumerated().map { index, node in
            CoordinatorPlacement(id: "coordinator-\(index + 1)", node: node, priority: index + 1)
        }
    }

    /// The shipped three-node feeder: 50 households on `node-a`, `node-b` and `node-c`, the balance service on
    /// `node-a`, coordinators on `node-b` (leads) and `node-c`; a simulated day takes 15 minutes (`time-scale` 96).
    public static var feeder3Nodes: EnergyCompositionBuilder {
        var builder = EnergyCompositionBuilder(households: 50, nodes: ["node-a", "node-b", "node-c"], coordinatorNodes: ["node-b", "node-c"])
        builder.timeScale = "96"
        return builder
    }

    /// The composition document.
    public func xml() -> String {
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<!--",
            "  Energy community on \(feeder): \(nodes.reduce(0) { $0 + $1.households.count }) households of the simulated day (seed \(seed)) on",
            "  \(nodes.count) nodes, each hosting a meter and a flexibility service for its households; the balance service",
            "  aggregates the meters (only sums of several households go on); \(coordinators.count) coordinators plan the flexible",
            "  loads and batteries: the lowest priority leads, the others plan in the shadow, ready to take over.",
            "  Written by EnergyCompositionBuilder (Sources/Energy); docs/energy.md explains every service and parameter.",
            "  Validate: smf compose validate Services/energy-community/feeder-3-nodes.xml",
            "-->",
            #"<composition xmlns="urn:smf:composition:1" name="\#(name)" version="1""#,
            #"             community="\#(community)" subcommunity="\#(subcommunity)">"#,
            "  <description>\(Self.escaped(summary))</description>",
            "  <services>",
        ]
        let clock = clockParameters
        let day = [("seed", "\(seed)"), ("simulated-households", "\(simulatedHouseholds)")]
        for node in nodes {
            let households = node.households.isEmpty ? [] : [("household", node.households.joined(separator: " "))]
            lines += service("meter-\(node.name)", "household-meter", node.name, households + day + (detailedReadings ? [("share", "detailed")] : []) + clock)
            lines += service("flex-\(node.name)", "flexibility", node.name, households + day + clock)
        }
        lines += service("balance", "community-balance", balanceNode, [("feeder", feeder)] + clock)
        for coordinator in coordinators {
            lines += service(coordinator.id, "coordinator", coordinator.node,
                [("priority", "\(coordinator.priority)")] + (failoverAfter.map { [("failover-after", $0)] } ?? []) + clock)
        }
        lines += ["  </services>", "  <wires>"]
        for node in nodes { lines.append(#"    <wire from="meter-\#(node.name).readings" to="balance.readings"/>"#) }
        for coordinator in coordinators {
            lines += [
                #"    <wire from="balance.balance" to="\#(coordinator.id).balance">"#,
                #"      <filter name="feeder" value="\#(feeder)"/>"#,
                "    </wire>",
            ]
            for node in nodes { lines.append(#"    <wire from="flex-\#(node.name).offers" to="\#(coordinator.id).offers"/>"#) }
            for node in nodes {
                lines += [
                    #"    <wire from="\#(coordinator.id).advice" to="flex-\#(node.name).advice" feedback="true">"#,
                    #"      <filter name="group" value="flex-\#(node.name)"/>"#,
                    "    </wire>",
                ]
            }
        }
        // Every coordinator hears every other; of each pair of opposite wires, the one from the later coordinator
        // closes the loop and is marked feedback.
        for (i, from) in coordinators.enumerated() {
            for (j, to) in coordinators.enumerated() where i != j {
                lines.append(#"    <wire from="\#(from.id).peers" to="\#(to.id).peers"\#(i > j ? #" feedback="true""# : "")/>"#)
            }
        }
        lines += ["  </wires>", "</composition>", ""]
        return lines.joined(separator: "\n")
    }

    private var clockParameters: [(String, String)] {
        (intervalMinutes == 15 ? [] : [("interval", "\(intervalMinutes)m")]) + (timeScale.map { [("time-scale", $0)] } ?? [])
            + (dayStart.map { [("day-start", $0)] } ?? [])
    }

    private func service(_ id: String, _ type: String, _ node: String, _ parameters: [(String, String)]) -> [String] {
        [#"    <service id="\#(id)" type="\#(type)" placement="peer:\#(node)">"#]
            + parameters.map { #"      <param name="\#($0.0)">\#(Self.escaped($0.1))</param>"# } + ["    </service>"]
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
