import ArgumentParser
import Composition
import ControlChannel
import Foundation
import ServicePlatform
import SMFNode

/// `smf deploy FILE`: checks a composition, has the running node deploy it, prints where each service runs and
/// waits until every wire is active.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a composition through the running node and wait until its wires are active.",
        discussion: """
            The file is checked first (as smf compose validate does): any problem is printed as \
            FILE:LINE:COLUMN: error: MESSAGE and nothing is deployed. The node then resolves every placement \
            (local, peer:NAME, any) through the overlay, only on nodes its <where> constraints allow (peer name or \
            area, smf run --area), and has each host commit its part; a placement or host that fails is named with \
            its service (and the constraint it violates) and nothing stays deployed. Then each service is printed \
            with its host, and the command waits until every wire's subscription is active (a service outside its \
            <time-window> counts as ready: it waits) and prints the time taken. Deploying \
            an application again replaces it (a new revision). Exits 1 on any failure or when --timeout passes.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The composition file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Do not wait for the wires: return once every host committed its part.")
    var noWait = false

    @Option(name: .long, help: ArgumentHelp("How long to wait for the wires, in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be more than 0 seconds") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        guard let data = FileManager.default.contents(atPath: file) else {
            FileHandle.standardError.write(Data("\(file): error: cannot read the file\n".utf8))
            throw ExitCode(1)
        }
        let text = String(decoding: data, as: UTF8.self)
        let checked = CompositionLoader().load(bytes: Array(data), fileName: file)
        guard checked.isValid, let composition = checked.composition else {
            for diagnostic in checked.diagnostics { FileHandle.standardError.write(Data("\(diagnostic)\n".utf8)) }
            throw ExitCode(1)
        }
        let report: ServiceDeployReport
        do {
            report = try await ControlClient.withConnection(dataDirectory: node.data) { client in
                try await client.call("sdp.deploy", arguments: DeployArguments(composition: text, fileName: file), as: ServiceDeployReport.self)
            }
        } catch let error as ControlError {
            // Diagnostics and placement failures are FILE:LINE:COLUMN: error: lines already; print them as they are.
            let lines = error.code == .invalidComposition || error.code == .deployFailed ? error.message : "smf deploy: \(error.message)"
            FileHandle.standardError.write(Data((lines + "\n").utf8))
            throw ExitCode(1)
        }
        printLine("deployed \(report.application) (revision \(report.revision)) into \(composition.community)/\(composition.subcommunity)")
        printLine(AppCommand.table(["SERVICE", "TYPE", "PLACEMENT", "HOST"], report.services.map { [$0.id, $0.type, $0.placement, $0.host] }))
        guard !noWait else { return }
        let wires = composition.wires.count
        let deadline = started + .seconds(timeout)
        var last: ServiceApplicationView?
        while ContinuousClock.now < deadline {
            last = try await node.withControlClient(command: "smf deploy") { client in
                try await client.call("sdp.app", arguments: AppArguments(name: report.application), as: ServiceApplicationView.self)
            }
            if let view = last, view.revision >= report.revision, view.allWiresActive {
                let elapsed = ContinuousClock.now - started
                printLine("all \(wires) wire\(wires == 1 ? "" : "s") active after \(Self.seconds(elapsed)) s")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let waiting = (last?.wires ?? []).filter { $0.state != "active" }.map { "\($0.id) \($0.from) → \($0.to): \($0.state)" }
        let stopped = (last?.services ?? []).filter { $0.state != "running" }.map { "service \($0.id) on \($0.host): \($0.state)" }
        FileHandle.standardError.write(
            Data("smf deploy: not every wire is active after \(timeout) s:\n\((stopped + waiting).map { "  " + $0 }.joined(separator: "\n"))\n".utf8))
        throw ExitCode(1)
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// `smf apps`: the applications the running node deployed or runs part of.
struct AppsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps",
        abstract: "List the applications the running node deployed or runs part of, with their wires and notices."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "Print the raw JSON answer instead of a table.")
    var json = false

    func run() async throws {
        let value = try await node.withControlClient(command: "smf apps") { client in try await client.call("sdp.apps") }
        if json {
            print(value.jsonText(pretty: true))
            return
        }
        let apps = try value.decode([ServiceApplicationView].self)
        guard !apps.isEmpty else {
            print("no applications")
            return
        }
        print(
            AppCommand.table(
                ["APPLICATION", "ROLE", "REVISION", "SUB-COMMUNITY", "SERVICES", "WIRES ACTIVE", "NOTICES"],
                apps.map { app in
                    [
                        app.name, app.role, "\(app.revision)", "\(app.community)/\(app.subcommunity)",
                        "\(app.services.filter { $0.state == "running" }.count)/\(app.services.count) running",
                        "\(app.wires.filter { $0.state == "active" }.count)/\(app.wires.count)", "\(app.notices.count)",
                    ]
                }))
    }
}

/// `smf app show NAME`.
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Inspect one application of the running node.",
        subcommands: [AppShowCommand.self]
    )

    /// A left-aligned table with a header line.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ values: [String]) -> String {
            values.enumerated().map { index, value in
                index == values.count - 1 ? value : value.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

struct AppShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show an application: each service with its host and state, each wire with its subscription and values.",
        discussion: """
            ACKED is the sequence number the producer had acknowledged by the consumer, PENDING the values waiting \
            for that acknowledgement. A service outside its <time-window> is shown as 'waiting: outside its time \
            window until <its host's local time>': it is not running and its inputs wait at their producers. On the \
            node that deployed the application every service and wire is shown; on another host only its own part.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The application's name.", valueName: "name"))
    var name: String

    @Flag(name: .long, help: "Print the raw JSON answer instead of tables.")
    var json = false

    func run() async throws {
        let view = try await node.withControlClient(command: "smf app show") { client in
            try await client.call("sdp.app", arguments: AppArguments(name: name), as: ServiceApplicationView.self)
        }
        if json {
            print(try ControlValue(encoding: view).jsonText(pretty: true))
            return
        }
        print("\(view.name) revision \(view.revision) in \(view.community)/\(view.subcommunity), deployed by \(view.deployer) (this node: \(view.role))")
        print(
            AppCommand.table(
                ["SERVICE", "TYPE", "PLACEMENT", "HOST", "STATE", "SUMMARY"],
                view.services.map { [$0.id, $0.type, $0.placement, $0.host, $0.state, $0.summary ?? "-"] }))
        if !view.wires.isEmpty {
            print("")
            print(
                AppCommand.table(
                    ["WIRE", "PRODUCER → CONSUMER", "SUBSCRIPTION", "ACKED", "PENDING"],
                    view.wires.map { [$0.id, "\($0.from) → \($0.to)", $0.state, "\($0.acknowledged)", "\($0.pending)"] }))
        }
        if !view.notices.isEmpty {
            print("")
            print("notices:")
            for notice in view.notices {
                let time = Date(timeIntervalSince1970: notice.time).formatted(.iso8601)
                print("  \(time) \(notice.text)")
            }
        }
    }
}

/// `smf undeploy NAME`.
struct UndeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undeploy",
        abstract: "Remove an application the running node deployed from every host.",
        discussion: "Each host stops its instances, ends their subscriptions and deletes their rows. Exits 1 when a host did not confirm."
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The application's name.", valueName: "name"))
    var name: String

    func run() async throws {
        let report = try await node.withControlClient(command: "smf undeploy") { client in
            try await client.call("sdp.undeploy", arguments: AppArguments(name: name), as: ServiceUndeployReport.self)
        }
        print("undeployed \(report.application) from \(report.removedFrom.count) host\(report.removedFrom.count == 1 ? "" : "s")")
        guard report.failures.isEmpty else {
            for failure in report.failures { FileHandle.standardError.write(Data("smf undeploy: \(failure)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
