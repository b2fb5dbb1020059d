import Discovery
import Overlay
import Testing

@testable import SMFNode

/// Which interface local discovery uses for a node (docs/overlay.md "Local discovery").
@Suite struct NodeDiscoverySettingsTests {
    @Test func defaultInterfaceIsTheOverlayAddressesAndNoneForLoopback() {
        let settings = NodeDiscoverySettings()
        #expect(settings.configuration(for: "192.168.1.20:5060")?.interface == "192.168.1.20")
        #expect(settings.configuration(for: "0.0.0.0:5060")?.interface == "0.0.0.0")
        #expect(settings.configuration(for: "[fd00::2]:5060")?.interface == "0.0.0.0")
        #expect(settings.configuration(for: "127.0.0.1:5060") == nil)
        #expect(settings.configuration(for: "[::1]:5060") == nil)
    }

    @Test func explicitInterfaceGroupAndPortAreUsedEvenOnLoopback() throws {
        var settings = NodeDiscoverySettings()
        settings.interface = "127.0.0.1"
        settings.group = "224.0.1.75"
        settings.port = 25083
        let configuration = try #require(settings.configuration(for: "127.0.0.1:5060"))
        #expect(configuration.interface == "127.0.0.1")
        #expect(configuration.group == "224.0.1.75")
        #expect(configuration.port == 25083)
        settings.enabled = false
        #expect(settings.configuration(for: "127.0.0.1:5060") == nil)
    }

    @Test func badGroupPortOrInterfaceIsRefusedByName() {
        func problem(_ change: (inout NodeDiscoverySettings) -> Void) -> String? {
            var settings = NodeDiscoverySettings()
            change(&settings)
            do {
                try settings.validate()
                return nil
            } catch {
                return error.problem
            }
        }
        #expect(problem { _ in } == nil)
        #expect(problem { $0.group = "10.0.0.1" }?.hasPrefix("--discovery-group '10.0.0.1' is not an IPv4 multicast address") == true)
        #expect(problem { $0.group = "239.1.2" }?.hasPrefix("--discovery-group '239.1.2'") == true)
        #expect(problem { $0.port = 0 } == "--discovery-port must be between 1 and 65535, not 0")
        #expect(problem { $0.interface = "eth0" }?.hasPrefix("--discovery-interface 'eth0' is not an IPv4 address") == true)
    }

    @Test func advertisedOverlayAddressIsNormalisedAndWildcardsRefused() throws {
        #expect(try NodeConfiguration.advertisedOverlayAddress("192.168.1.20:5060") == "192.168.1.20:5060")
        #expect(try NodeConfiguration.advertisedOverlayAddress("sip:192.168.1.20:5070") == "192.168.1.20:5070")
        #expect(try NodeConfiguration.advertisedOverlayAddress("sip:192.168.1.20;transport=tcp") == "tcp:192.168.1.20:5060")
        #expect(throws: SMFNodeError.self) { try NodeConfiguration.advertisedOverlayAddress("0.0.0.0:5060") }
        #expect(throws: SMFNodeError.self) { try NodeConfiguration.advertisedOverlayAddress("192.168.1.20") }
    }

    @Test func announcedContactReadsBackAsTheOverlayAddress() {
        for address in ["127.0.0.1:5070", "tcp:10.0.0.5:5060", "[fd00::2]:5062"] {
            let contact = NodeDiscovery.contact(of: OverlayAddress(address))
            #expect(contact.hasPrefix("sip:"))
            #expect(NodeDiscovery.overlayAddress(ofContact: contact)?.value == address)
        }
    }
}
