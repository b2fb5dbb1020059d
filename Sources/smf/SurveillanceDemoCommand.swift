import ArgumentParser
import ControlChannel
import Foundation
import ServicePlatform
import SMFNode

/// `smf demo` (`smf demo surveillance`, what `make demo` runs): the building-surveillance application of
/// Services/building-surveillance/variant1.xml on a community of `smf run` processes on 127.0.0.1, from founding the
/// community to an accepted alarm.
struct SurveillanceDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surveillance",
        abstract: "Run building surveillance on 9+ smf nodes on 127.0.0.1, raise a fire alarm and show how it reached a person.",
        discussion: """
            Starts one smf run process per service of Services/building-surveillance/variant1.xml (house-12 with the \
            recorder and two simulated smoke detectors, registry, availability, forwarder, evaluator, selector, \
            notifier) and two supporters (alice, who declines, and bob, who accepts), each with its own data \
            directory in a temporary directory; with baresip installed, also carol's node and her plain SIP phone \
            (baresip), which accepts by replying to the alarm MESSAGE. The nodes found the community north-street and \
            the sub-community surveillance/north-street through their control commands (as smf community and smf sub \
            do), house-12 deploys the composition, the supporters register and report availability and location, and \
            two smoke readings are PUBLISHed to the recorder. Prints the alarm's path hop by hop with timings, who was \
            told and who accepted. Exits 0 when the alarm is accepted, 1 with the reason otherwise. The processes and \
            directories are removed on every path, Ctrl-C included.
            """
    )

    @Flag(name: .long, help: "Do not use baresip even when it is installed.")
    var noBaresip = false

    @Flag(name: .long, help: "Keep the nodes' data directories and logs (the path is printed) instead of removing them.")
    var keepData = false

    @Option(name: .long, help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
    var timeout: Double = 55

    @Option(name: .long, help: ArgumentHelp("The composition (default: Services/building-surveillance/variant1.xml of this checkout).", valueName: "file"))
    var composition: String?

    func validate() throws {
        guard timeout >= 10 else { throw ValidationError("--timeout must be at least 10 seconds") }
    }

    static let community = "north-street"
    static let sub = "surveillance/north-street"
    static let application = "building-surveillance"
    /// House 12, and where the supporters are: alice 110 m away, carol 450 m, bob 1.1 km.
    static let house = (52.5200, 13.4050)

    func run() async throws {
        let cleanup = DemoCleanup.shared
        cleanup.installSignalHandlers()
        let started = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await runDemo(started: started) }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    throw DemoFailure(description: "the demo did not finish within \(Int(timeout)) s")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            printLine("demo failed: \(error)")
            cleanup.cleanUp()
            throw ExitCode(1)
        }
        cleanup.cleanUp()
    }

    private func runDemo(started: ContinuousClock.Instant) async throws {
        let file = try Self.compositionFile(composition)
        let text = try String(contentsOf: file, encoding: .utf8)
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("smf-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: base)
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        if !keepData { DemoCleanup.shared.add(directory: base) }
        let phoneInstallation = noBaresip ? nil : DemoPhone.installed()

        // The nodes: one per service of the composition, and the supporters' own nodes.
        var specs: [(name: String, role: String, extra: [String])] = [
            ("house-12", "recorder and two simulated smoke detectors (peer:house-12, in area north-street as its constraint asks); deploys the application", ["--area", "north-street"]),
            ("registry", "supporter-registry (1)", ["--offer", "supporter-registry"]),
            ("availability", "supporter-availability (2)", ["--offer", "supporter-availability"]),
            ("forwarder", "sensor-forwarder (4)", ["--offer", "sensor-forwarder"]),
            ("evaluator", "event-evaluator (5)", ["--offer", "event-evaluator"]),
            ("selector", "supporter-selector (6)", ["--offer", "supporter-selector"]),
            ("notifier", "supporter-notifier (7)", ["--offer", "supporter-notifier"]),
            ("alice", "supporter 110 m from house 12; her node declines (--alarm-auto-answer decline)", ["--alarm-auto-answer", "decline"]),
            ("bob", "supporter 1.1 km from house 12; his node accepts (--alarm-auto-answer accept)", ["--alarm-auto-answer", "accept"]),
        ]
        if phoneInstallation != nil {
            specs.append(("carol", "supporter 450 m from house 12 on a plain SIP phone (baresip); her node registers it", []))
        }
        printLine("smf demo: building surveillance (variant 1) on \(specs.count) smf run processes on 127.0.0.1, data in \(base.path)")
        var nodes: [String: DemoNode] = [:]
        let first = try await DemoNode(binary: binary, name: specs[0].name, role: specs[0].role, base: base, bootstrap: nil, extra: specs[0].extra)
        nodes[first.name] = first
        try await withThrowingTaskGroup(of: DemoNode.self) { group in
            for spec in specs.dropFirst() {
                group.addTask { try await DemoNode(binary: binary, name: spec.name, role: spec.role, base: base, bootstrap: first, extra: spec.extra) }
            }
            for try await node in group { nodes[node.name] = node }
        }
        printLine("started in \(Self.seconds(since: started)) s")
        for spec in specs {
            guard let node = nodes[spec.name] else { continue }
            printLine("  \(spec.name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(node.addressOfRecord.padding(toLength: 32, withPad: " ", startingAt: 0)) \(spec.role)")
        }
        let others = specs.dropFirst().compactMap { nodes[$0.name] }
        func node(_ name: String) throws -> DemoNode {
            guard let node = nodes[name] else { throw DemoFailure(description: "no node \(name)") }
            return node
        }
        let house = try node("house-12")

        // The community and its sub-community, as smf community create/invite/join and smf sub create/join do it.
        let formed = ContinuousClock.now
        _ = try await house.call("community.create", CommunityCreateArguments(name: Self.community), as: ControlValue.self)
        for member in others {
            let invitation = try await house.call("community.invite", CommunityInviteArguments(), as: CommunityInvitation.self)
            _ = try await member.call(
                "community.join", CommunityJoinArguments(token: invitation.token, bootstrap: "127.0.0.1:\(house.port)"), as: ControlValue.self)
        }
        // The community's ring settles (every successor right) before the sub-community's records go into it.
        let everyone = [house] + others
        try await Self.retry(for: .seconds(30), "the community ring forming") {
            var successor: [String: String] = [:]
            for member in everyone {
                let status = try await member.call("overlay.status", CommunityArguments(community: Self.community), as: OverlayStatusReport.self)
                guard status.phase == "joined" else { throw DemoFailure(description: "\(member.name) is \(status.phase)") }
                successor[status.node.id] = status.successors.first?.id
            }
            let ids = successor.keys.sorted()
            for (index, id) in ids.enumerated() where successor[id] != ids[(index + 1) % ids.count] {
                throw DemoFailure(description: "the ring is not settled yet")
            }
        }
        _ = try await house.call("sub.create", SubCreateArguments(name: Self.sub), as: ControlValue.self)
        for member in others {
            try await Self.retry(for: .seconds(20), "\(member.name) joining \(Self.sub)") {
                _ = try await member.call("sub.join", SubArguments(name: Self.sub), as: ControlValue.self)
            }
        }
        printLine(
            "community \(Self.community): \(specs.count) members; sub-community \(Self.sub): \(specs.count) members (\(Self.seconds(since: formed)) s)")

        // Deploy, once the overlay holds every provider's record, and wait for the wires.
        let deploying = ContinuousClock.now
        let report = try await Self.retry(for: .seconds(25), "deploy \(file.lastPathComponent)") {
            try await house.call("sdp.deploy", DeployArguments(composition: text, fileName: file.path), as: ServiceDeployReport.self)
        }
        var view = try await house.call("sdp.app", AppArguments(name: report.application), as: ServiceApplicationView.self)
        while !view.allWiresActive {
            try await Task.sleep(for: .milliseconds(100))
            view = try await house.call("sdp.app", AppArguments(name: report.application), as: ServiceApplicationView.self)
        }
        let hosts = Set(report.services.map(\.host)).count
        printLine(
            "deployed \(report.application) (revision \(report.revision)): \(report.services.count) services on \(hosts) nodes, all \(view.wires.count) wires active (\(Self.seconds(since: deploying)) s)"
        )

        // Supporters: register, report availability and where they are.
        let notifierURI = try Self.instance(of: "supporter-notifier", in: report)
        var phone: DemoPhone?
        if let installation = phoneInstallation {
            phone = try await DemoPhone(user: "carol-phone", contact: notifierURI, base: base, installation: installation)
        }
        var supporters: [(node: DemoNode, location: (Double, Double), phone: DemoPhone?, answers: String)] = [
            (try node("alice"), (52.5209, 13.4055), nil, "declines"),
            (try node("bob"), (52.5290, 13.4130), nil, "accepts"),
        ]
        if let phone { supporters.insert((try node("carol"), (52.5240, 13.4060), phone, "accepts by replying from the phone"), at: 1) }
        for supporter in supporters {
            // A node that joined a moment ago may not know every member's address yet (members' announcements come
            // every stabilisation period): until it does, its requests go unsigned and are refused.
            try await Self.retry(for: .seconds(15), "\(supporter.node.name) registering") {
                let registration = try await supporter.node.call(
                    "supporter.register",
                    SupporterRegisterArguments(
                        application: Self.application, to: nil, kinds: ["fire"], buildings: [supporter.phone == nil ? "house-12" : "*"],
                        phone: supporter.phone == nil ? "smf-node" : "sip-phone", contact: supporter.phone?.uri, expires: nil),
                    as: SupporterRegisterResult.self)
                guard (200..<300).contains(registration.statusCode ?? 0) else {
                    throw DemoFailure(description: "refused: \(registration.statusCode.map(String.init) ?? "no answer") \(registration.reason ?? "")")
                }
            }
            try await Self.retry(for: .seconds(15), "\(supporter.node.name) reporting availability") {
                let availability = try await supporter.node.call(
                    "supporter.availability",
                    SupporterAvailabilityArguments(
                        application: Self.application, to: nil, status: "open", activities: [], latitude: supporter.location.0,
                        longitude: supporter.location.1),
                    as: RequestOutcome.self)
                guard availability.isSuccess else {
                    throw DemoFailure(description: "refused: \(availability.statusCode.map(String.init) ?? "no answer") \(availability.reason ?? "")")
                }
            }
            let how = supporter.phone.map { "alarms by MESSAGE to \($0.uri) (baresip)" } ?? "alarms by NOTIFY to its node"
            printLine("supporter \(supporter.node.name): registered for fire, available at \(supporter.location.0),\(supporter.location.1); \(how); \(supporter.answers)")
        }
        // The selector must know every supporter and their availability, and the smf-node supporters must be
        // watching their alarm resources, before the smoke.
        try await Self.retry(for: .seconds(15), "the supporters reaching the selector") {
            let view = try await house.call("sdp.app", AppArguments(name: Self.application), as: ServiceApplicationView.self)
            let summary = view.services.first { $0.id == "selector" }?.summary ?? ""
            guard summary.hasPrefix("\(supporters.count) supporters registered, \(supporters.count) with availability") else {
                throw DemoFailure(description: "the selector reports '\(summary)'")
            }
            for supporter in supporters where supporter.phone == nil {
                let rows = try await supporter.node.call("subscriptions.list", [String: String](), as: [SubscriptionRow].self)
                guard rows.contains(where: { $0.role == "subscriber" && $0.package.hasPrefix("m2m-alarm") && $0.state == "active" }) else {
                    throw DemoFailure(description: "\(supporter.node.name) is not yet watching its alarms")
                }
            }
        }

        // Smoke in house 12: two detectors within a minute is a fire (the evaluator's rule).
        let smoke = ContinuousClock.now
        for (sensor, value) in [("smoke-kitchen", 0.8), ("smoke-hall", 0.7)] {
            let result = try await house.call(
                "sensor.report",
                SensorReportArguments(
                    application: Self.application, to: nil, sensor: sensor, building: "house-12", kind: "smoke", value: value,
                    latitude: Self.house.0, longitude: Self.house.1),
                as: SensorReportResult.self)
            guard result.accepted == 1 else {
                throw DemoFailure(description: "the recorder did not take \(sensor)'s reading: \(result.statusCode.map(String.init) ?? "no answer") \(result.reason ?? "")")
            }
        }
        printLine("smoke: smoke-kitchen 0.8 and smoke-hall 0.7 in house-12, PUBLISHed (m2m-sensor) to \(try Self.instance(of: "sensor-recorder", in: report))")

        // Wait for the alarm; carol's phone answers the MESSAGE it gets.
        let notifier = try node("notifier")
        var replied = false
        var alarmID = ""
        while true {
            let list = try await notifier.call("alarms.list", AlarmsArguments(limit: 10), as: AlarmsListResult.self)
            if let alarm = list.alarms.last {
                alarmID = alarm.id
                if alarm.state == "accepted" { break }
            }
            if let phone, !replied, !alarmID.isEmpty, phone.text.contains("ALARM \(alarmID)") {
                printLine("carol's phone (baresip) got the alarm MESSAGE and replies \"ok \(alarmID)\"")
                phone.command("/message ok \(alarmID)")
                replied = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let detail = try await notifier.call("alarms.show", AlarmsArguments(limit: 1, id: alarmID), as: AlarmDetail.self)
        printLine("")
        for line in detail.lines { printLine(line) }
        printLine("")
        printLine(
            "demo ok: alarm \(alarmID) accepted by \(detail.summary.acceptedBy ?? "?") \(String(format: "%.2f", Self.elapsed(since: smoke))) s after the smoke readings; whole demo \(Self.seconds(since: started)) s"
        )
    }

    /// The composition: the option's file, else variant1.xml of the checkout (searched from the working directory,
    /// then from the binary's directory upwards).
    static func compositionFile(_ option: String?) throws -> URL {
        if let option { return URL(fileURLWithPath: option) }
        let relative = "Services/building-surveillance/variant1.xml"
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory)
            directory.deleteLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent(relative).path) {
            return candidate.appendingPathComponent(relative)
        }
        throw DemoFailure(description: "cannot find \(relative); run the demo from the smf checkout or give --composition FILE")
    }

    static func instance(of type: String, in report: ServiceDeployReport) throws -> String {
        guard let service = report.services.first(where: { $0.type == type }), let host = SIPURIText.replacingUser(of: service.host, with: "\(report.application).\(service.id)")
        else { throw DemoFailure(description: "the deployment has no \(type)") }
        return host
    }

    /// Runs `body` until it stops throwing, at most `limit`; then throws its last error.
    @discardableResult
    static func retry<T>(for limit: Duration, _ what: String, _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try await body()
            } catch {
                if ContinuousClock.now >= deadline { throw DemoFailure(description: "\(what): \(error)") }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func seconds(since start: ContinuousClock.Instant) -> String { String(format: "%.1f", elapsed(since: start)) }
}

/// `sip:user@host:port` with another user part.
enum SIPURIText {
    static func replacingUser(of uri: String, with user: String) -> String? {
        guard let colon = uri.firstIndex(of: ":") else { return nil }
        let rest = uri[uri.index(after: colon)...]
        let hostPart = rest.firstIndex(of: "@").map { rest[rest.index(after: $0)...] } ?? rest
        return "\(uri[..<colon]):\(user)@\(hostPart)"
    }
}
