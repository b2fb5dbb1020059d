/// Draws a composition as a Graphviz DOT digraph: one node per service, one edge per wire, services
/// clustered by placement (this node, each named peer, any member).
public enum CompositionGraph {
    /// The DOT text of `composition`; `catalog` supplies the event package shown on each wire.
    ///
    /// Each edge is labelled with the event package, the ports it joins and its filters; wires marked
    /// feedback are dashed.
    public static func dot(for composition: Composition, catalog: ServiceTypeCatalog = .builtIn) -> String {
        var lines: [String] = []
        lines.append("digraph \(quoted(composition.name)) {")
        lines.append("  label=\(quoted("\(composition.name) (\(composition.subcommunity))"));")
        lines.append("  labelloc=t;")
        lines.append("  rankdir=LR;")
        lines.append("  node [shape=box, style=rounded];")
        lines.append("  edge [fontsize=10];")

        var groups: [(key: String, label: String, services: [ServiceDeclaration])] = []
        for service in composition.services {
            let key: String
            let label: String
            switch service.placement {
            case .local: (key, label) = ("local", "this node")
            case .any: (key, label) = ("any", "any member offering the type")
            case .peer(let name): (key, label) = ("peer:\(name)", "peer \(name)")
            }
            if let index = groups.firstIndex(where: { $0.key == key }) {
                groups[index].services.append(service)
            } else {
                groups.append((key, label, [service]))
            }
        }
        for (index, group) in groups.enumerated() {
            lines.append("  subgraph cluster_\(index) {")
            lines.append("    label=\(quoted(group.label));")
            lines.append("    style=dashed;")
            for service in group.services {
                lines.append("    \(quoted(service.id)) [label=\(quoted("\(service.id)\n\(service.type)"))];")
            }
            lines.append("  }")
        }
        for wire in composition.wires {
            let package = catalog.ports(of: wire, in: composition)?.output.eventPackage
            var label = [package ?? "?", "\(wire.from.port) → \(wire.to.port)"]
            label += wire.filters.map(\.description)
            var attributes = ["label=\(quoted(label.joined(separator: "\n")))"]
            if wire.isFeedback { attributes.append("style=dashed") }
            lines.append("  \(quoted(wire.from.service)) -> \(quoted(wire.to.service)) [\(attributes.joined(separator: ", "))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A DOT double-quoted string: backslashes and quotes escaped, line breaks as `\n`.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for character in text {
            switch character {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": break
            default: result.append(character)
            }
        }
        return result + "\""
    }
}
