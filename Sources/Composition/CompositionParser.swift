import Rules
import XMLSupport

/// Turns a schema-valid `<composition>` element into a ``Composition``, noting problems the schema
/// cannot express (e.g. a comparison with both `above` and `below`).
///
/// It never fails: an element it cannot make sense of is reported and left out, so one run reports
/// every problem.
struct CompositionParser {
    let file: String
    private(set) var diagnostics: [CompositionDiagnostic] = []
    /// Services with a `<rule>` that could not be read (already reported).
    private(set) var servicesWithUnreadableRules: Set<String> = []

    private let ns = Composition.namespace

    init(file: String) {
        self.file = file
    }

    mutating func parse(_ root: XMLElement) -> Composition {
        let services = root.firstChild(named: "services", namespaceURI: ns)?
            .children(named: "service", namespaceURI: ns).map { parseService($0) } ?? []
        let wires = root.firstChild(named: "wires", namespaceURI: ns)?
            .children(named: "wire", namespaceURI: ns).compactMap { parseWire($0) } ?? []
        let constraints = root.firstChild(named: "constraints", namespaceURI: ns)?
            .children(named: "constraint", namespaceURI: ns).map { parseConstraint($0) } ?? []
        return Composition(
            name: root.attribute("name") ?? "",
            version: root.attribute("version").flatMap { Int($0) } ?? 1,
            community: root.attribute("community") ?? "",
            subcommunity: root.attribute("subcommunity") ?? "",
            description: root.firstChild(named: "description", namespaceURI: ns).map { trimmed($0.text) },
            services: services, wires: wires, constraints: constraints,
            location: location(root))
    }

    // MARK: - Elements

    private mutating func parseService(_ element: XMLElement) -> ServiceDeclaration {
        let placementText = element.attribute("placement") ?? "any"
        let placement = Placement(attribute: placementText)
        if placement == nil {
            report(element, "placement '\(placementText)' is not local, any or peer:NAME")
        }
        let configuration = element.children(named: "param", namespaceURI: ns).map {
            ConfigurationEntry(name: $0.attribute("name") ?? "", value: trimmed($0.text), location: location($0))
        }
        let id = element.attribute("id") ?? ""
        let ruleElements = element.children(named: "rule", namespaceURI: ns)
        let rules = ruleElements.compactMap { parseRule($0, service: id) }
        if rules.count != ruleElements.count { servicesWithUnreadableRules.insert(id) }
        return ServiceDeclaration(
            id: id, type: element.attribute("type") ?? "", placement: placement ?? .any,
            configuration: configuration, rules: rules, location: location(element))
    }

    private mutating func parseWire(_ element: XMLElement) -> Wire? {
        let fromText = element.attribute("from") ?? ""
        let toText = element.attribute("to") ?? ""
        guard let from = PortReference(fromText), let to = PortReference(toText) else {
            report(element, "a wire joins service.port to service.port, not '\(fromText)' to '\(toText)'")
            return nil
        }
        let filters = element.children(named: "filter", namespaceURI: ns).map {
            WireFilter(name: $0.attribute("name") ?? "", value: $0.attribute("value") ?? "")
        }
        let feedback = element.attribute("feedback")
        return Wire(
            id: element.attribute("id"), from: from, to: to, filters: filters,
            isFeedback: feedback == "true" || feedback == "1", location: location(element))
    }

    private mutating func parseConstraint(_ element: XMLElement) -> ServiceConstraint {
        var windows: [TimeWindow] = []
        var places: [AvailabilityPlace] = []
        for child in element.children where child.namespaceURI == ns {
            switch child.name {
            case "time-window":
                guard let from = minutes(child.attribute("from")), let to = minutes(child.attribute("to")) else {
                    report(child, "a time window needs from and to as HH:MM")
                    continue
                }
                if from == to {
                    report(child, "the time window \(child.attribute("from") ?? "") to \(child.attribute("to") ?? "") is empty")
                }
                let dayNames = (child.attribute("days") ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
                var days: [Weekday] = []
                for name in dayNames {
                    guard let day = Weekday(rawValue: name) else {
                        report(child, "'\(name)' is not a day (mon, tue, wed, thu, fri, sat, sun)")
                        continue
                    }
                    if !days.contains(day) { days.append(day) }
                }
                windows.append(TimeWindow(days: days, fromMinute: from, toMinute: to))
            case "where":
                switch (child.attribute("peer"), child.attribute("area")) {
                case (let peer?, nil) where !peer.isEmpty: places.append(.peer(peer))
                case (nil, let area?) where !area.isEmpty: places.append(.area(area))
                default: report(child, "<where> needs exactly one of peer=\"…\" or area=\"…\", not empty")
                }
            default:
                break
            }
        }
        return ServiceConstraint(
            service: element.attribute("service"), timeWindows: windows, places: places, location: location(element))
    }

    // MARK: - Rules

    private mutating func parseRule(_ element: XMLElement, service: String) -> RuleDeclaration? {
        let id = element.attribute("id") ?? ""
        let rule = "service '\(service)': rule '\(id)'"
        let severityText = element.attribute("severity") ?? "major"
        guard let severity = RuleSeverity(rawValue: severityText) else {
            report(element, "\(rule): severity '\(severityText)' is not info, minor, major or critical")
            return nil
        }
        let conditions = element.children.filter { $0.namespaceURI == ns }
        guard conditions.count == 1, let condition = parseCondition(conditions[0], rule: rule) else {
            if conditions.count != 1 { report(element, "\(rule) needs exactly one condition, not \(conditions.count)") }
            return nil
        }
        return RuleDeclaration(
            rule: Rule(id: id, alarmKind: element.attribute("alarm") ?? "", severity: severity, condition: condition),
            location: location(element))
    }

    private mutating func parseCondition(_ element: XMLElement, rule: String) -> RuleCondition? {
        switch element.name {
        case "threshold":
            guard let (selector, comparison) = parseComparison(element, rule: rule) else { return nil }
            return .threshold(selector, comparison)
        case "count":
            guard let (selector, comparison) = parseComparison(element, rule: rule) else { return nil }
            guard let sensors = element.attribute("sensors").flatMap({ Int($0) }), sensors >= 1 else {
                report(element, "\(rule): <count> needs sensors=\"N\" with N of at least 1")
                return nil
            }
            guard let within = duration(element, "within", rule: rule) else { return nil }
            return .count(selector, comparison, sensors: sensors, within: within)
        case "sustained":
            guard let (selector, comparison) = parseComparison(element, rule: rule) else { return nil }
            guard let duration = duration(element, "for", rule: rule) else { return nil }
            return .sustained(selector, comparison, for: duration)
        case "all", "any":
            var children: [RuleCondition] = []
            var complete = true
            for child in element.children where child.namespaceURI == ns {
                if let condition = parseCondition(child, rule: rule) { children.append(condition) } else { complete = false }
            }
            guard complete else { return nil }
            return element.name == "all" ? .all(children) : .any(children)
        case "not":
            let children = element.children.filter { $0.namespaceURI == ns }
            guard children.count == 1 else {
                report(element, "\(rule): <not> needs exactly one condition, not \(children.count)")
                return nil
            }
            return parseCondition(children[0], rule: rule).map { .not($0) }
        default:
            report(element, "\(rule): <\(element.name)> is not a condition")
            return nil
        }
    }

    private mutating func parseComparison(_ element: XMLElement, rule: String) -> (RuleSelector, RuleComparison)? {
        let selector = RuleSelector(kind: element.attribute("kind"), sensorID: element.attribute("sensor"))
        var comparisons: [RuleComparison] = []
        for (name, make) in [("above", RuleComparison.above), ("below", RuleComparison.below), ("equals", RuleComparison.equal)] {
            guard let text = element.attribute(name) else { continue }
            guard let value = Double(text), value.isFinite else {
                report(element, "\(rule): \(name)=\"\(text)\" is not a finite number")
                return nil
            }
            comparisons.append(make(value))
        }
        guard comparisons.count == 1 else {
            report(
                element,
                "\(rule): <\(element.name)> needs exactly one of above, below or equals, not \(comparisons.count)")
            return nil
        }
        return (selector, comparisons[0])
    }

    private mutating func duration(_ element: XMLElement, _ attribute: String, rule: String) -> Duration? {
        let text = element.attribute(attribute) ?? ""
        guard let value = CompositionDuration.parse(text), value > .zero else {
            report(element, "\(rule): \(attribute)=\"\(text)\" is not a duration longer than 0 (e.g. 30s)")
            return nil
        }
        return value
    }

    // MARK: - Helpers

    private func location(_ element: XMLElement) -> SourceLocation {
        SourceLocation(file: file, line: element.line)
    }

    private mutating func report(_ element: XMLElement, _ message: String) {
        diagnostics.append(CompositionDiagnostic(location: location(element), message: message))
    }

    private func minutes(_ text: String?) -> Int? {
        guard let text else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), (0..<24).contains(hours),
            (0..<60).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }

    private func trimmed(_ text: String) -> String {
        var characters = Substring(text)
        while let first = characters.first, first.isWhitespace { characters.removeFirst() }
        while let last = characters.last, last.isWhitespace { characters.removeLast() }
        return String(characters)
    }
}
