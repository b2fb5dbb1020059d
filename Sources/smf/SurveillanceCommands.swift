import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// Reads `LAT,LON` (WGS 84 degrees) given to `option`.
func parseLocation(_ text: String, option: String) throws -> (latitude: Double, longitude: Double) {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard parts.count == 2, let latitude = Double(parts[0]), let longitude = Double(parts[1]), (-90...90).contains(latitude),
        (-180...180).contains(longitude)
    else {
        throw ValidationError("\(option) must be LAT,LON with -90≤LAT≤90 and -180≤LON≤180, e.g. 48.85,2.35, not '\(text)'")
    }
    return (latitude, longitude)
}

/// `--app NAME` or `--to URI`: where a surveillance request goes.
struct ApplicationTarget: ParsableArguments {
    @Option(name: .customLong("app"), help: ArgumentHelp("The application (composition name); the node finds where its service runs.", valueName: "name"))
    var application: String?

    @Option(name: .long, help: ArgumentHelp("The service instance's SIP URI, instead of --app.", valueName: "uri"))
    var to: String?

    func validate() throws {
        guard (application == nil) != (to == nil) else { throw ValidationError("give either --app NAME or --to URI") }
        if let to, !(to.hasPrefix("sip:") || to.hasPrefix("sips:")) { throw ValidationError("--to '\(to)' is not a sip: URI") }
    }
}

// MARK: - smf sensor

struct SensorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensor", abstract: "Send sensor readings to a building-surveillance recorder.", subcommands: [SensorReportCommand.self])
}

/// `smf sensor report`: a reading PUBLISHed (`m2m-sensor`) from the running node to an application's recorder.
struct SensorReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "PUBLISH a sensor reading (m2m-sensor) to an application's recorder and print its answer.",
        discussion: """
            The node sends one PUBLISH with an application/smf-sensor+json body from its address of record to the \
            application's sensor-recorder (--app, found where it runs) or to --to, and prints the answer: \
            '200 OK from sip:…' (the recorder stored the reading) or the refusal with its reason, e.g. \
            '400 invalid sensor body: …'. Exits 0 on 2xx. With --count N it sends N readings (sensor ids ID-1 … ID-N), \
            --window at a time, and prints how many were accepted; exits 0 only when all were.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: ApplicationTarget

    @Option(name: .customLong("id"), help: ArgumentHelp("The sensor's id, e.g. smoke-kitchen.", valueName: "id"))
    var sensor: String

    @Option(name: .long, help: ArgumentHelp("The building, e.g. house-12.", valueName: "building"))
    var building: String

    @Option(name: .long, help: ArgumentHelp("The reading.", valueName: "value"))
    var value: Double

    @Option(name: .long, help: ArgumentHelp("What it measures (smoke, temperature, door, …); default: the id up to its first '-'.", valueName: "kind"))
    var kind: String?

    @Option(name: .long, help: ArgumentHelp("Where the building is, LAT,LON in degrees (sent with the reading).", valueName: "lat,lon"))
    var location: String?

    @Option(name: .long, help: ArgumentHelp("Readings to send (a burst, each its own PUBLISH).", valueName: "n"))
    var count: Int = 1

    @Option(name: .long, help: ArgumentHelp("PUBLISHes in flight at once during a burst.", valueName: "n"))
    var window: Int = 64

    @Flag(name: .long, help: "Print the answer as JSON.")
    var json = false

    func validate() throws {
        guard !sensor.isEmpty, !building.isEmpty else { throw ValidationError("--id and --building must not be empty") }
        guard value.isFinite else { throw ValidationError("--value must be a finite number") }
        if let location { _ = try parseLocation(location, option: "--location") }
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1 to 1000000, not \(count)") }
        guard (1...1000).contains(window) else { throw ValidationError("--window must be 1 to 1000, not \(window)") }
    }

    func run() async throws {
        let position = try location.map { try parseLocation($0, option: "--location") }
        let arguments = SensorReportArguments(
            application: target.application, to: target.to, sensor: sensor, building: building,
            kind: kind ?? String(sensor.split(separator: "-").first ?? Substring(sensor)), value: value, latitude: position?.latitude,
            longitude: position?.longitude, count: count, window: window)
        let result = try await node.withControlClient(command: "smf sensor report") { client in
            try await client.call("sensor.report", arguments: arguments, as: SensorReportResult.self)
        }
        if json {
            print(try ControlValue(encoding: result).jsonText(pretty: false))
        } else if count == 1 {
            if let status = result.statusCode {
                print("\(status) \(result.reason ?? "") from \(result.target)")
            } else {
                print("no answer from \(result.target): \(result.reason ?? "no final response")")
            }
        } else {
            print(String(format: "%d readings sent to %@ in %.2f s: %d accepted", result.sent, result.target, result.elapsedSeconds, result.accepted))
            for (failure, times) in result.failures.sorted(by: { $0.key < $1.key }) { print("  \(times) × \(failure)") }
        }
        guard result.accepted == result.sent else { throw ExitCode(1) }
    }
}

// MARK: - smf alarms

/// `smf alarms`: the alarms the notifier on this node holds.
struct AlarmsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarms",
        abstract: "List the building-surveillance alarms of the notifier on the running node; follow them, or show one.",
        discussion: """
            One line per alarm (newest last): id, when it was raised, building, kind, state (open, accepted, cancelled), \
            who was told over what, who accepted, and how long after the alarm was raised the first supporter was \
            contacted and one accepted. --follow then prints each new step as it is stored, until Ctrl-C. --show ID \
            prints one alarm's whole history: its path hop by hop (the reading's arrival at the recorder, each service \
            that passed it on, with node and time), every delivery step, who was told when and over what, and who accepted.
            """
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "After the table, print each new step as it is stored.")
    var follow = false

    @Option(name: .long, help: ArgumentHelp("Show one alarm's whole history.", valueName: "id"))
    var show: String?

    @Option(name: .long, help: ArgumentHelp("The newest this many alarms.", valueName: "n"))
    var limit: Int = 100

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
        if show != nil, follow { throw ValidationError("--show and --follow do not go together") }
    }

    func run() async throws {
        if let show {
            let detail = try await node.withControlClient(command: "smf alarms") { client in
                try await client.call("alarms.show", arguments: AlarmsArguments(limit: 1, id: show), as: AlarmDetail.self)
            }
            if json { print(try ControlValue(encoding: detail).jsonText(pretty: true)) } else { detail.lines.forEach { print($0) } }
            return
        }
        let list = try await node.withControlClient(command: "smf alarms") { client in
            try await client.call("alarms.list", arguments: AlarmsArguments(limit: limit), as: AlarmsListResult.self)
        }
        if json {
            printLine(try ControlValue(encoding: list.alarms).jsonText(pretty: !follow))
        } else if list.alarms.isEmpty {
            printLine("no alarms on this node")
        } else {
            list.lines.forEach(printLine)
        }
        guard follow else { return }
        let asJSON = json
        try await node.withControlClient(command: "smf alarms") { client in
            let events = try await client.stream("alarms.follow", try ControlValue(encoding: AlarmsArguments(limit: limit)))
            for try await value in events {
                guard let line = try? value.decode(AlarmFollowLine.self) else { continue }
                printLine(asJSON ? value.jsonText(pretty: false) : line.text)
            }
        }
    }
}

// MARK: - smf supporter

struct SupporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supporter", abstract: "This node's supporter in a building-surveillance application.",
        subcommands: [SupporterRegisterCommand.self, SupporterAvailabilityCommand.self])
}

/// `smf supporter register`: a PUBLISH `m2m-supporter-registration` to the application's registry.
struct SupporterRegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register this node's supporter (its address of record) for event kinds in buildings.",
        discussion: """
            The node PUBLISHes an application/smf-supporter-registration+json body from its address of record to the \
            application's supporter-registry. An smf-node supporter (the default) gets alarms on this node: it then \
            subscribes (m2m-alarm) to the notifier's alarm resource for its address of record (variant 1) and keeps \
            that subscription, following the notifier when it moves; in variant 2 the notifier asks it by SUBSCRIBE. \
            Alarms land in 'smf alarm inbox'. A sip-phone supporter is a plain phone at --contact that gets a MESSAGE and \
            accepts by replying 'ok <id>'. --expires 0 removes the registration. Exits 0 when the registry answered 2xx.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: ApplicationTarget

    @Option(name: .long, help: ArgumentHelp("Event kinds, comma-separated (fire,intrusion; * for any).", valueName: "kinds"))
    var kinds: String

    @Option(name: .long, help: ArgumentHelp("Buildings, comma-separated (house-12,house-14; * for any).", valueName: "buildings"))
    var buildings: String

    @Option(name: .long, help: ArgumentHelp("smf-node (this node takes the alarms) or sip-phone (a plain phone at --contact).", valueName: "kind"))
    var phone: String = "smf-node"

    @Option(name: .long, help: ArgumentHelp("Where the alarms go (default: this node's address of record).", valueName: "uri"))
    var contact: String?

    @Option(name: .long, help: ArgumentHelp("Seconds the registration lasts (default: the registry's longest); 0 removes it.", valueName: "seconds"))
    var expires: Int?

    func validate() throws {
        guard ["smf-node", "sip-phone"].contains(phone) else { throw ValidationError("--phone must be smf-node or sip-phone, not '\(phone)'") }
        if phone == "sip-phone", contact == nil { throw ValidationError("--phone sip-phone needs --contact, the phone's SIP URI") }
        if let contact, !(contact.hasPrefix("sip:") || contact.hasPrefix("sips:")) { throw ValidationError("--contact '\(contact)' is not a sip: URI") }
        if let expires, expires < 0 { throw ValidationError("--expires must not be negative") }
        guard !Self.list(kinds).isEmpty, !Self.list(buildings).isEmpty else { throw ValidationError("--kinds and --buildings need at least one entry") }
    }

    static func list(_ text: String) -> [String] { text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let arguments = SupporterRegisterArguments(
            application: target.application, to: target.to, kinds: Self.list(kinds), buildings: Self.list(buildings), phone: phone, contact: contact,
            expires: expires)
        let result = try await node.withControlClient(command: "smf supporter register") { client in
            try await client.call("supporter.register", arguments: arguments, as: SupporterRegisterResult.self)
        }
        let answer = result.statusCode.map { "\($0) \(result.reason ?? "")" } ?? "no answer (\(result.reason ?? "no final response"))"
        guard (200..<300).contains(result.statusCode ?? 0) else {
            print("registration refused by \(result.registry): \(answer)")
            throw ExitCode(1)
        }
        print(expires == 0 ? "unregistered at \(result.registry): \(answer)" : "registered for \(arguments.kinds.joined(separator: ",")) in \(arguments.buildings.joined(separator: ",")) at \(result.registry): \(answer)")
        if let watching = result.watching { print("watching alarms at \(watching)") }
    }
}

/// `smf supporter availability`: a PIDF (PIDF-LO) PUBLISH to the application's availability service.
struct SupporterAvailabilityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "availability",
        abstract: "Tell the application's availability service whether this node's supporter can help, and where they are.",
        discussion: """
            The node PUBLISHes (presence) a PIDF document for its address of record: basic status open or closed, RPID \
            activities (busy, away, …) and, with --location, a PIDF-LO point. The selector prefers available supporters \
            and, with locations known, the nearest. Exits 0 when the service answered 2xx.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: ApplicationTarget

    @Option(name: .long, help: ArgumentHelp("open (can help) or closed.", valueName: "open|closed"))
    var status: String

    @Option(name: .long, help: ArgumentHelp("An RPID activity, e.g. busy or away. Repeatable.", valueName: "activity"))
    var activity: [String] = []

    @Option(name: .long, help: ArgumentHelp("Where the supporter is, LAT,LON in degrees.", valueName: "lat,lon"))
    var location: String?

    @Option(name: .long, help: ArgumentHelp("A note.", valueName: "text"))
    var note: String?

    func validate() throws {
        guard ["open", "closed"].contains(status) else { throw ValidationError("--status must be open or closed, not '\(status)'") }
        if let location { _ = try parseLocation(location, option: "--location") }
    }

    func run() async throws {
        let position = try location.map { try parseLocation($0, option: "--location") }
        let arguments = SupporterAvailabilityArguments(
            application: target.application, to: target.to, status: status, activities: activity, latitude: position?.latitude,
            longitude: position?.longitude, note: note)
        let result = try await node.withControlClient(command: "smf supporter availability") { client in
            try await client.call("supporter.availability", arguments: arguments, as: RequestOutcome.self)
        }
        let answer = result.statusCode.map { "\($0) \(result.reason ?? "")" } ?? "no answer (\(result.reason ?? "no final response"))"
        print("availability \(status)\(activity.isEmpty ? "" : " (\(activity.joined(separator: ",")))") sent to \(result.target): \(answer)")
        guard result.isSuccess else { throw ExitCode(1) }
    }
}

// MARK: - smf alarm

struct AlarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm", abstract: "The alarms sent to this node's supporter: list them, answer them.",
        subcommands: [AlarmInboxCommand.self, AlarmAnswerCommand.self])
}

/// `smf alarm inbox`: the alarms this node's supporter was told about.
struct AlarmInboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox",
        abstract: "List the alarms sent to this node's supporter, oldest first, with the answer given.",
        discussion: "--follow then prints each new alarm as it arrives, until Ctrl-C (an alarm is stored before the node answers 200)."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "After the list, print each new alarm as it arrives.")
    var follow = false

    @Flag(name: .long, help: "Print each alarm as a JSON line.")
    var json = false

    func run() async throws {
        let asJSON = json
        if follow {
            try await node.withControlClient(command: "smf alarm inbox") { client in
                let events = try await client.stream("alarm.inbox.follow", try ControlValue(encoding: AlarmInboxArguments()))
                for try await value in events {
                    guard let alarm = try? value.decode(InboxAlarm.self) else { continue }
                    printLine(asJSON ? value.jsonText(pretty: false) : Self.line(alarm))
                }
            }
            return
        }
        let alarms = try await node.withControlClient(command: "smf alarm inbox") { client in
            try await client.call("alarm.inbox", arguments: AlarmInboxArguments(), as: [InboxAlarm].self)
        }
        if alarms.isEmpty, !asJSON { print("no alarms for this node's supporter") }
        for alarm in alarms { print(asJSON ? try ControlValue(encoding: alarm).jsonText(pretty: false) : Self.line(alarm)) }
    }

    /// `2026-11-23T08:00:00.120Z house-12-fire-… critical fire in house-12 by NOTIFY from sip:…: accepted (delivered 200 …)`.
    static func line(_ alarm: InboxAlarm) -> String {
        let time = Date(timeIntervalSince1970: Double(alarm.receivedAtNanoseconds) / 1e9).formatted(.iso8601)
        let answer = alarm.answer.map { "\($0 == "accept" ? "accepted" : "declined")" + (alarm.answerResult.map { " (\($0))" } ?? "") } ?? "not answered"
        let place = alarm.latitude.map { lat in String(format: " at %.5f,%.5f", lat, alarm.longitude ?? 0) } ?? ""
        return "\(time) \(alarm.id) \(alarm.severity) \(alarm.kind) in \(alarm.building)\(place) by \(alarm.channel) from \(alarm.notifier): \(answer)"
    }
}

/// `smf alarm answer ID accept|decline`.
struct AlarmAnswerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Accept or decline an alarm sent to this node's supporter.",
        discussion: """
            The answer is stored, then sent: in variant 2 as a NOTIFY in the notifier's subscription, otherwise as a \
            MESSAGE (application/smf-alarm-answer+json) to the notifier. Prints what became of it; exits 0 when it was \
            delivered.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The alarm's id (smf alarm inbox lists them).", valueName: "id"))
    var id: String

    @Argument(help: ArgumentHelp("accept or decline.", valueName: "accept|decline"))
    var decision: String

    func validate() throws {
        guard ["accept", "decline"].contains(decision) else { throw ValidationError("the answer is accept or decline, not '\(decision)'") }
    }

    func run() async throws {
        let result = try await node.withControlClient(command: "smf alarm answer") { client in
            try await client.call("alarm.answer", arguments: AlarmAnswerArguments(id: id, decision: decision), as: AlarmAnswerResult.self)
        }
        print("\(result.decision == "accept" ? "accepted" : "declined") \(result.id): \(result.result)")
        guard result.delivered else { throw ExitCode(1) }
    }
}
