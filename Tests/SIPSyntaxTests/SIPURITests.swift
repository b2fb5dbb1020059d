import SIPSyntax
import Testing

@Suite struct SIPURITests {
    @Test func parsesFullSIPURIIntoComponents() throws {
        let uri = try SIPURI(parsing: "sip:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent")
        #expect(uri.scheme == "sip")
        #expect(uri.user == "alice")
        #expect(uri.password == "secret")
        #expect(uri.host == "atlanta.example.com")
        #expect(uri.port == 5061)
        #expect(uri.transport == "tcp")
        #expect(uri.isLooseRouting)
        #expect(uri.parameters["lr"] == .some(nil))
        #expect(uri.headers == [.init(name: "subject", value: "project%20x"), .init(name: "priority", value: "urgent")])
        #expect(uri.description == "sip:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent")
    }

    @Test func keepsIPv6ReferenceBracketsInHost() throws {
        let uri = try #require(SIPURI("sips:[2001:db8::10]:5061"))
        #expect(uri.scheme == "sips")
        #expect(uri.host == "[2001:db8::10]")
        #expect(uri.hostWithoutBrackets == "2001:db8::10")
        #expect(uri.port == 5061)
        #expect(uri.user == nil)
    }

    @Test func lowercasesSchemeAndKeepsUserCase() throws {
        let uri = try #require(SIPURI("SIP:Bob@Biloxi.example.com"))
        #expect(uri.scheme == "sip")
        #expect(uri.user == "Bob")
        #expect(uri.description == "sip:Bob@Biloxi.example.com")
    }

    @Test func userPartMayContainSemicolonsAndEscapes() throws {
        let uri = try #require(SIPURI("sip:user;par=u%40example.net@example.com"))
        #expect(uri.user == "user;par=u%40example.net")
        #expect(SIPURI.percentDecoded(uri.user ?? "") == "user;par=u@example.net")
        #expect(uri.host == "example.com")
        #expect(uri.parameters.isEmpty)
    }

    @Test func parsesTelURIWithNumberInUser() throws {
        let uri = try #require(SIPURI("tel:+1-201-555-0123;phone-context=example.com"))
        #expect(uri.scheme == "tel")
        #expect(uri.user == "+1-201-555-0123")
        #expect(uri.parameters.value("phone-context") == "example.com")
        #expect(uri.description == "tel:+1-201-555-0123;phone-context=example.com")
    }

    @Test func keepsUnknownSchemeOpaque() throws {
        let uri = try #require(SIPURI("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"))
        #expect(uri.scheme == "urn")
        #expect(uri.opaque == "uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
        #expect(!uri.isSIP)
        #expect(uri.description == "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    }

    @Test(arguments: [
        "sip:", "sip:@example.com", "sip:alice@", "sip:alice@host:99999", "sip:alice@host:port",
        "sip:alice@[::1", "sip:al ice@host", "example.com", "sip:alice@host;=x", "sip:a%4@host", "1sip:host",
        "sip:host?a", "sip:alice@host:5060:5060",
    ])
    func rejectsMalformedURIs(_ text: String) {
        #expect(SIPURI(text) == nil)
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: text) }
    }

    @Test func reportsInvalidURIKind() {
        #expect {
            try SIPURI(parsing: "sip:alice@host:99999")
        } throws: { error in
            (error as? SIPParseError)?.kind == .invalidURI
        }
    }

    @Test func buildsURIFromParts() {
        let uri = SIPURI(user: "sensor-7", host: "192.0.2.4", port: 5070, parameters: [("transport", "udp")])
        #expect(uri.description == "sip:sensor-7@192.0.2.4:5070;transport=udp")
        #expect(SIPURI(uri.description) == uri)
    }

    @Test func comparesURIsByRFC3261Rules() throws {
        let a = try #require(SIPURI("sip:%61lice@ATLANTA.example.com;transport=TCP"))
        let b = try #require(SIPURI("sip:alice@atlanta.example.com;transport=tcp"))
        #expect(a.isEquivalent(to: b))
        let c = try #require(SIPURI("sip:alice@atlanta.example.com"))
        #expect(!b.isEquivalent(to: c))  // transport present in only one
        let d = try #require(SIPURI("sip:ALICE@atlanta.example.com"))
        #expect(!c.isEquivalent(to: d))  // user is case-sensitive
        let e = try #require(SIPURI("sip:alice@atlanta.example.com;foo=1"))
        #expect(c.isEquivalent(to: e))  // other params only compared when in both
    }
}

@Suite struct SIPParametersTests {
    @Test func looksUpNamesCaseInsensitivelyAndKeepsOrder() {
        var parameters: SIPParameters = [("Transport", "tcp"), ("lr", nil)]
        #expect(parameters.value("transport") == "tcp")
        #expect(parameters.contains("LR"))
        #expect(parameters.value("lr") == nil)
        parameters.set("maddr", "239.0.0.1")
        parameters.set("TRANSPORT", "udp")
        #expect(parameters.map(\.name) == ["Transport", "lr", "maddr"])
        #expect(parameters.description == ";Transport=udp;lr;maddr=239.0.0.1")
        parameters.remove("lr")
        #expect(!parameters.contains("lr"))
        #expect(parameters.count == 2)
    }

    @Test func unquotesQuotedValues() throws {
        let address = try #require(SIPNameAddress(#"<sip:a@b>;+sip.instance="<urn:uuid:1234>";q=0.5"#))
        #expect(address.parameters.value("+sip.instance") == #""<urn:uuid:1234>""#)
        #expect(address.parameters.unquotedValue("+sip.instance") == "<urn:uuid:1234>")
    }
}
