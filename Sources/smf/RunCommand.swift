import ArgumentParser
import Composition
import Foundation
import Logging
import Overlay
import SIPSyntax
import SIPTransport
import SMFNode
import UnixSignals

/// `smf run`: one node in the foreground until SIGINT or SIGTERM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node in the foreground until SIGINT or SIGTERM.",
        discussion: """
            The node keeps its state in <dir>/smf.sqlite and answers `smf` commands on <dir>/control.sock. It is the \
            presence agent of its address of record sip:USER@HOST:PORT (its first UDP listener) and serves the \
            presence and m2m-alarm event packages and MESSAGE. It takes part in the community's overlay (a Chord ring \
            carried in SIP REGISTERs) with the key in <dir>/identity.key, joining through --bootstrap peers or a peer \
            found on the LAN (local discovery), and registers its address of record there. The communities it \
            belongs to (smf community, smf sub) come back from <dir>/smf.sqlite, each with its own ring; requests of \
            a community are verified (403 with the reason when they fail) and the node serves the smf-membership \
            package. Its service runtime runs the parts of compositions placed on it, restores them after a restart, \
            and publishes the types given with --offer in each of its sub-communities, with its --area (smf deploy, \
            docs/services.md). \
            As a building-surveillance supporter's node it keeps the alarms sent to it in its inbox and answers them \
            (smf alarm answer, or --alarm-auto-answer). Options may also come from a --config file. Prints one line 'smf ready: <listeners> data=<dir>' on \
            stdout once the listeners are open; logs go to stderr.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Data directory (created if missing).", valueName: "dir"))
    var data: String

    @Option(
        name: .long,
        parsing: .singleValue,
        help: ArgumentHelp(
            "Listener as transport:host:port, e.g. udp:127.0.0.1:5060 or tcp:[::1]:5060; port 0 picks a free port. Repeatable; default udp and tcp on 127.0.0.1:5060.",
            valueName: "transport:host:port"
        ),
        transform: { text in
            do throws(SIPAddressError) { return try SIPListenAddress(parsing: text) } catch { throw ValidationError(error.description) }
        }
    )
    var listen: [SIPListenAddress] = []

    @Option(name: .long, help: ArgumentHelp("SIP user part of this node's URIs.", valueName: "name"))
    var user: String = "smf"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A registrar and presence server (e.g. Kamailio) as a SIP URI, e.g. sip:10.0.0.1:5060: the node REGISTERs sip:USER@HOST:PORT there and PUBLISHes its presence to it.",
            valueName: "uri"
        )
    )
    var registrar: String?

    @Option(name: .long, help: ArgumentHelp("Registration lifetime asked of the registrar, in seconds.", valueName: "seconds"))
    var registerExpires: Int = 600

    @Option(
        name: .long,
        help: ArgumentHelp(
            "An overlay peer to join the community's ring through, as host:port or a SIP URI (e.g. sip:127.0.0.1:5070). Repeatable, tried in turn; none: a peer found by local discovery, else a new ring.",
            valueName: "uri"
        )
    )
    var bootstrap: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp("Overlay stabilisation and finger refresh period in ms (default 5000); tests use short periods.", valueName: "ms")
    )
    var overlayStabilizeMs: Int?

    @Option(name: .long, help: ArgumentHelp("How long the overlay waits for one answer, in ms (default 1000).", valueName: "ms"))
    var overlayTimeoutMs: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Total copies of each overlay record: the owner and its next successors (default 4, so 3 adjacent failures lose nothing).", valueName: "n")
    )
    var overlayReplicas: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A service type this node offers to compositions that place a service 'any' (see smf compose types). Repeatable.",
            valueName: "type")
    )
    var offer: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A sub-community this node takes part in while it is in no community, as COMMUNITY/SUB, e.g. north-street/surveillance/north-street: it may deploy there, host services and offer its types. Repeatable.",
            valueName: "community/sub")
    )
    var scope: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The area this node is in (a street, a feeder), published with its overlay records: compositions place services by it with <where area=\"NAME\"/>. One per node; default none.",
            valueName: "name")
    )
    var area: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The time zone in which this node reads the <time-window>s of the services it hosts, as an identifier such as Europe/Berlin or UTC. Default: the machine's.",
            valueName: "id")
    )
    var timeZone: String?

    @OptionGroup var discovery: OverlayDiscoveryOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How this node answers building-surveillance alarms sent to its supporter by itself: none (default: a person answers with smf alarm answer), accept or decline at once (unattended supporters, demos).",
            valueName: "none|accept|decline")
    )
    var alarmAutoAnswer: String = "none"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Test aid: drop this share (0 to 1, e.g. 0.1) of the UDP datagrams the node receives, as a lossy network would, so SIP retransmissions are exercised. Default 0.",
            valueName: "fraction")
    )
    var injectUdpLoss: Double = 0

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var energy: EnergyRunOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A config file of `key = value` lines, one key per long option of smf run (docs/cli.md, docs/examples/smf.conf); options given here override it.",
            valueName: "file"
        )
    )
    var config: String?

    func validate() throws {
        guard AlarmAutoAnswer(rawValue: alarmAutoAnswer) != nil else {
            throw ValidationError("--alarm-auto-answer must be none, accept or decline, not '\(alarmAutoAnswer)'")
        }
        guard (0...0.9).contains(injectUdpLoss) else { throw ValidationError("--inject-udp-loss must be between 0 and 0.9, not \(injectUdpLoss)") }
        guard !data.isEmpty else { throw ValidationError("--data must name a directory") }
        guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || "-_.!~*'()&=+$,;?/".contains($0) }) else {
            throw ValidationError("--user '\(user)' is not a SIP user name (letters, digits and -_.!~*'()&=+$,;?/)")
        }
        _ = try registrarURI()
        guard (60...86_400).contains(registerExpires) else {
            throw ValidationError("--register-expires must be between 60 and 86400 seconds, not \(registerExpires)")
        }
        for text in bootstrap {
            do throws(SMFNodeError) { _ = try NodeConfiguration.bootstrapAddress(text) } catch { throw ValidationError("--bootstrap: \(error.problem)") }
        }
        if let overlayStabilizeMs, !(50...600_000).contains(overlayStabilizeMs) {
            throw ValidationError("--overlay-stabilize-ms must be between 50 and 600000, not \(overlayStabilizeMs)")
        }
        if let overlayTimeoutMs, !(20...60_000).contains(overlayTimeoutMs) {
            throw ValidationError("--overlay-timeout-ms must be between 20 and 60000, not \(overlayTimeoutMs)")
        }
        if let overlayReplicas, !(1...6).contains(overlayReplicas) {
            throw ValidationError("--overlay-replicas must be between 1 and 6 (the successor list length), not \(overlayReplicas)")
        }
        for text in scope {
            do throws(SMFNodeError) { _ = try NodeServiceOptions.scope(text) } catch { throw ValidationError(error.problem) }
        }
        if let area {
            do throws(SMFNodeError) { _ = try NodeServiceOptions.area(area) } catch { throw ValidationError(error.problem) }
        }
        if let timeZone {
            do throws(SMFNodeError) { _ = try NodeServiceOptions.timeZone(timeZone) } catch { throw ValidationError(error.problem) }
        }
        let known = ServiceTypeCatalog.builtIn
        for type in offer where known[type] == nil {
            throw ValidationError("--offer \(type): unknown service type; known: \(known.names.joined(separator: ", "))")
        }
        var seen = Set<SIPListenAddress>()
        for address in listen where !seen.insert(address).inserted && address.port != 0 {
            throw ValidationError("--listen \(address) is given twice")
        }
    }

    /// The parsed `--registrar`, checked to be a sip: URI with a host.
    private func registrarURI() throws -> SIPURI? {
        guard let registrar else { return nil }
        guard let uri = SIPURI(registrar), uri.isSIP, !uri.host.isEmpty else {
            throw ValidationError("--registrar '\(registrar)' is not a sip: URI with a host, e.g. sip:10.0.0.1:5060")
        }
        return uri
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "smf")
        var configuration = NodeConfiguration(
            listeners: listen.isEmpty ? NodeConfiguration.defaultListeners : listen,
            dataDirectory: data,
            user: user,
            registrar: try registrarURI()
        )
        configuration.registrationExpires = registerExpires
        configuration.overlayBootstrap = try bootstrap.map { text throws(SMFNodeError) in try NodeConfiguration.bootstrapAddress(text) }
        if let overlayStabilizeMs { configuration.setOverlayStabilizeInterval(.milliseconds(overlayStabilizeMs)) }
        if let overlayTimeoutMs { configuration.overlay.requestTimeout = .milliseconds(overlayTimeoutMs) }
        if let overlayReplicas { configuration.overlay.replicaCount = overlayReplicas }
        configuration.energy = try energy.options()
        configuration.services.offeredTypes = offer
        configuration.services.scopes = try scope.map { text throws(SMFNodeError) in try NodeServiceOptions.scope(text) }
        configuration.services.area = try area.map { text throws(SMFNodeError) in try NodeServiceOptions.area(text) }
        if let timeZone { configuration.services.timeZone = try NodeServiceOptions.timeZone(timeZone) }
        try discovery.apply(to: &configuration)
        configuration.surveillance.alarmAutoAnswer = AlarmAutoAnswer(rawValue: alarmAutoAnswer) ?? .none
        configuration.injectedUDPLoss = injectUdpLoss
        let dataDirectory = data
        let node = SMFNode(
            configuration: configuration,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger,
            onReady: { addresses in
                let line = "smf ready: " + addresses.map(\.description).joined(separator: " ") + " data=\(dataDirectory)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        )
        do {
            try await node.start()
        } catch {
            FileHandle.standardError.write(Data("smf run: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await node.run()
        logger.info("node stopped")
    }
}
