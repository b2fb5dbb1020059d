import ArgumentParser
import SMFNode

/// How peers find a `smf run` node: the overlay address it advertises and local discovery on the LAN
/// (docs/overlay.md "Local discovery", docs/cli.md).
struct OverlayDiscoveryOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The address peers reach this node's overlay at, as HOST:PORT (or tcp:HOST:PORT, or a SIP URI); default the first UDP listener, which is wrong for a node listening on 0.0.0.0.",
            valueName: "host:port"
        )
    )
    var overlayAddress: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Local discovery (on by default): without --bootstrap, find a peer to join on the LAN, and answer other nodes' queries. --no-discovery starts a new ring at once and answers nobody."
    )
    var discovery = true

    @Option(
        name: .long,
        help: ArgumentHelp(
            "IPv4 address of the interface local discovery uses (default: that of the overlay address; 0.0.0.0 lets the kernel choose). A node on a loopback address discovers only when this is given, e.g. 127.0.0.1.",
            valueName: "ipv4"
        )
    )
    var discoveryInterface: String?

    @Option(name: .long, help: ArgumentHelp("IPv4 multicast group of local discovery (default 239.255.255.75).", valueName: "ipv4"))
    var discoveryGroup: String?

    @Option(name: .long, help: ArgumentHelp("UDP port of local discovery (default 5083).", valueName: "port"))
    var discoveryPort: Int?

    func validate() throws {
        if let overlayAddress {
            do throws(SMFNodeError) { _ = try NodeConfiguration.advertisedOverlayAddress(overlayAddress) } catch {
                throw ValidationError("--overlay-address: \(error.problem)")
            }
        }
        do throws(SMFNodeError) { try settings.validate() } catch { throw ValidationError(error.problem) }
    }

    /// The discovery settings these options give.
    var settings: NodeDiscoverySettings {
        var settings = NodeDiscoverySettings()
        settings.enabled = discovery
        settings.interface = discoveryInterface
        if let discoveryGroup { settings.group = discoveryGroup }
        if let discoveryPort { settings.port = discoveryPort }
        return settings
    }

    /// Sets the overlay address and discovery of `configuration`.
    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.discovery = settings
        if let overlayAddress {
            do throws(SMFNodeError) { configuration.overlayAddress = try NodeConfiguration.advertisedOverlayAddress(overlayAddress) } catch {
                throw ValidationError("--overlay-address: \(error.problem)")
            }
        }
    }
}
