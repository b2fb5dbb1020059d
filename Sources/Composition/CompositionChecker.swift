import Rules

/// The semantic checks of a composition against a ``ServiceTypeCatalog``; every problem at once.
///
/// Checked: duplicate service, wire and rule ids; unknown service types; unknown, duplicate, missing
/// required and ill-typed configuration; rules on a type that takes none, or none on a type that needs
/// them; wires to unknown services or ports, from an input or to an output, joining ports of different
/// event packages or value types, or with filters the producing port does not accept; required inputs
/// never wired (the service would be unreachable); cycles not marked `feedback="true"`; constraints on
/// unknown services.
public struct CompositionChecker: Sendable {
    /// The service types compositions may use.
    public var catalog: ServiceTypeCatalog

    /// Creates a checker for `catalog`.
    public init(catalog: ServiceTypeCatalog) {
        self.catalog = catalog
    }

    /// Every semantic problem of `composition`, in declaration order.
    public func check(_ composition: Composition) -> [CompositionDiagnostic] {
        check(composition, servicesWithUnreadableRules: [])
    }

    /// As ``check(_:)``; services in `servicesWithUnreadableRules` had `<rule>`s the parser already
    /// reported, so they are not also said to have none.
    func check(_ composition: Composition, servicesWithUnreadableRules: Set<String>) -> [CompositionDiagnostic] {
        var diagnostics: [CompositionDiagnostic] = []
        func report(_ location: SourceLocation, _ message: String) {
            diagnostics.append(CompositionDiagnostic(location: location, message: message))
        }

        // Services: ids, types, configuration, rules.
        var servicesByID: [String: ServiceDeclaration] = [:]
        for service in composition.services {
            if let earlier = servicesByID[service.id] {
                report(service.location, "service id '\(service.id)' is already used on line \(earlier.location.line)")
                continue
            }
            servicesByID[service.id] = service
            guard let type = catalog[service.type] else {
                report(
                    service.location,
                    "service '\(service.id)' has unknown service type '\(service.type)'; known types: \(catalog.names.joined(separator: ", "))")
                continue
            }
            checkConfiguration(of: service, type: type, report: report)
            checkRules(
                of: service, type: type, rulesUnreadable: servicesWithUnreadableRules.contains(service.id),
                report: report)
        }

        // Wires.
        var wireIDs: [String: Int] = [:]
        var wired: Set<PortReference> = []
        var seenWires: [String: Int] = [:]
        var soundWires: [Wire] = []
        for wire in composition.wires {
            if let id = wire.id {
                if let line = wireIDs[id] {
                    report(wire.location, "wire id '\(id)' is already used on line \(line)")
                } else {
                    wireIDs[id] = wire.location.line
                }
            }
            if let line = seenWires["\(wire.from)>\(wire.to)"] {
                report(wire.location, "wire \(wire) duplicates the wire on line \(line)")
            } else {
                seenWires["\(wire.from)>\(wire.to)"] = wire.location.line
            }
            let output = port(wire.from, output: true, services: servicesByID, wire: wire, report: report)
            let input = port(wire.to, output: false, services: servicesByID, wire: wire, report: report)
            if input != nil { wired.insert(wire.to) }
            guard let output, let input else { continue }
            soundWires.append(wire)
            if output.eventPackage != input.eventPackage || output.valueType != input.valueType {
                report(
                    wire.location,
                    "wire \(wire): type mismatch: \(wire.from) sends \(output.valueType) (event package \(output.eventPackage)) but \(wire.to) takes \(input.valueType) (event package \(input.eventPackage))")
            }
            var filterNames: Set<String> = []
            for filter in wire.filters {
                if !output.filters.contains(filter.name) {
                    let accepted = output.filters.isEmpty ? "none" : output.filters.joined(separator: ", ")
                    report(
                        wire.location,
                        "wire \(wire): output \(wire.from) has no filter '\(filter.name)' (its filters: \(accepted))")
                }
                if !filterNames.insert(filter.name).inserted {
                    report(wire.location, "wire \(wire): filter '\(filter.name)' is given twice")
                }
            }
        }

        // Reachability: every required input is wired.
        for service in composition.services where servicesByID[service.id]?.location == service.location {
            guard let type = catalog[service.type] else { continue }
            for input in type.inputs where input.isRequired && !wired.contains(PortReference(service: service.id, port: input.name)) {
                report(
                    service.location,
                    "service '\(service.id)' is unreachable: its required input '\(input.name)' (\(input.valueType)) is never wired")
            }
        }

        // Cycles among wires not marked as feedback.
        for (wire, path) in cycles(among: soundWires, services: composition.services.map(\.id)) {
            report(
                wire.location,
                "wire \(wire) closes the cycle \(path.joined(separator: " → ")); mark one of its wires feedback=\"true\" if the loop is intended")
        }

        // Constraints.
        for constraint in composition.constraints {
            if let id = constraint.service, servicesByID[id] == nil {
                report(constraint.location, "constraint names service '\(id)', which is not in this composition")
            }
        }

        return diagnostics
    }

    private func checkConfiguration(
        of service: ServiceDeclaration, type: ServiceTypeDescriptor, report: (SourceLocation, String) -> Void
    ) {
        var seen: [String: Int] = [:]
        for entry in service.configuration {
            if let line = seen[entry.name] {
                report(entry.location, "service '\(service.id)': parameter '\(entry.name)' is already set on line \(line)")
                continue
            }
            seen[entry.name] = entry.location.line
            guard let parameter = type.parameter(entry.name) else {
                let known = type.parameters.isEmpty ? "none" : type.parameters.map(\.name).joined(separator: ", ")
                report(
                    entry.location,
                    "service '\(service.id)' (\(type.name)) has no parameter '\(entry.name)'; its parameters: \(known)")
                continue
            }
            if let problem = parameter.type.problem(with: entry.value) {
                report(
                    entry.location,
                    "service '\(service.id)': parameter '\(entry.name)' must be \(parameter.type), but \(problem)")
            }
        }
        for parameter in type.parameters where parameter.isRequired && seen[parameter.name] == nil {
            report(
                service.location,
                "service '\(service.id)' (\(type.name)) is missing required parameter '\(parameter.name)' (\(parameter.type): \(parameter.summary))")
        }
    }

    private func checkRules(
        of service: ServiceDeclaration, type: ServiceTypeDescriptor, rulesUnreadable: Bool,
        report: (SourceLocation, String) -> Void
    ) {
        guard type.takesRules else {
            if let first = service.rules.first {
                report(first.location, "service '\(service.id)' (\(type.name)) takes no rules; only rule components such as event-evaluator and rule do")
            }
            return
        }
        if service.rules.isEmpty && !rulesUnreadable {
            report(service.location, "service '\(service.id)' (\(type.name)) declares no <rule>; it needs at least one")
        }
        var seen: [String: Int] = [:]
        for declaration in service.rules {
            if let line = seen[declaration.rule.id] {
                report(declaration.location, "service '\(service.id)': rule id '\(declaration.rule.id)' is already used on line \(line)")
            } else {
                seen[declaration.rule.id] = declaration.location.line
            }
            for problem in declaration.rule.problems() {
                report(declaration.location, "service '\(service.id)': \(problem)")
            }
        }
    }

    /// The port `reference` names, reporting why when it names none.
    private func port(
        _ reference: PortReference, output: Bool, services: [String: ServiceDeclaration], wire: Wire,
        report: (SourceLocation, String) -> Void
    ) -> PortDescriptor? {
        let side = output ? "from" : "to"
        guard let service = services[reference.service] else {
            report(wire.location, "wire \(wire): \(side) '\(reference)' names service '\(reference.service)', which is not in this composition")
            return nil
        }
        guard let type = catalog[service.type] else { return nil }  // already reported as unknown type
        let ports = output ? type.outputs : type.inputs
        if let port = ports.first(where: { $0.name == reference.port }) { return port }
        let kind = output ? "output" : "input"
        let names = ports.isEmpty ? "none" : ports.map(\.name).joined(separator: ", ")
        if (output ? type.input(reference.port) : type.output(reference.port)) != nil {
            report(
                wire.location,
                "wire \(wire): '\(reference.port)' is an \(output ? "input" : "output") of '\(reference.service)' (\(type.name)), not an \(kind); its \(kind)s: \(names)")
        } else {
            report(
                wire.location,
                "wire \(wire): service '\(reference.service)' (\(type.name)) has no \(kind) port '\(reference.port)'; its \(kind)s: \(names)")
        }
        return nil
    }

    /// For each wire that closes a cycle of non-feedback wires, the cycle as service ids.
    private func cycles(among wires: [Wire], services: [String]) -> [(Wire, [String])] {
        var edges: [String: [Wire]] = [:]
        for wire in wires where !wire.isFeedback {
            edges[wire.from.service, default: []].append(wire)
        }
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var found: [(Wire, [String])] = []
        // Iterative depth-first search (a long chain of services must not exhaust the stack): each frame
        // is a service and the index of its next outgoing wire.
        for root in services where marks[root] == nil {
            var path: [(node: String, next: Int)] = [(root, 0)]
            marks[root] = .visiting
            while let top = path.last {
                let outgoing = edges[top.node] ?? []
                guard top.next < outgoing.count else {
                    marks[top.node] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let wire = outgoing[top.next]
                let next = wire.to.service
                switch marks[next] {
                case .visiting:
                    let start = path.lastIndex { $0.node == next } ?? 0
                    found.append((wire, path[start...].map(\.node) + [next]))
                case .done:
                    break
                case nil:
                    marks[next] = .visiting
                    path.append((next, 0))
                }
            }
        }
        return found
    }
}
