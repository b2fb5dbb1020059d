import SIPSyntax
import Testing

@Suite struct SIPNameAddressTests {
    @Test func parsesQuotedDisplayNameWithEscapes() throws {
        let address = try #require(SIPNameAddress(#""Bob \"the\" Builder" <sip:bob@biloxi.example.com>;tag=a48s"#))
        #expect(address.displayName == #"Bob "the" Builder"#)
        #expect(address.uri.user == "bob")
        #expect(address.tag == "a48s")
        #expect(address.description == #""Bob \"the\" Builder" <sip:bob@biloxi.example.com>;tag=a48s"#)
    }

    @Test func parsesTokenDisplayName() throws {
        let address = try #require(SIPNameAddress("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8"))
        #expect(address.displayName == "Anonymous")
        #expect(address.uri.host == "privacy.org")
        #expect(address.tag == "hyh8")
    }

    @Test func addrSpecParametersBelongToTheHeader() throws {
        let address = try #require(SIPNameAddress("sip:alice@atlanta.example.com;tag=1928301774"))
        #expect(address.displayName == nil)
        #expect(address.uri.parameters.isEmpty)
        #expect(address.tag == "1928301774")
        #expect(address.description == "<sip:alice@atlanta.example.com>;tag=1928301774")
    }

    @Test func bracketedURIKeepsItsOwnParameters() throws {
        let address = try #require(SIPNameAddress("<sip:proxy.example.com;lr>;expires=60"))
        #expect(address.uri.isLooseRouting)
        #expect(address.expires == 60)
        #expect(address.tag == nil)
    }

    @Test func settingTagAddsOrRemovesParameter() throws {
        var address = try #require(SIPNameAddress("<sip:bob@example.com>"))
        address.tag = "xyz"
        #expect(address.description == "<sip:bob@example.com>;tag=xyz")
        address.tag = nil
        #expect(address.description == "<sip:bob@example.com>")
    }

    @Test(arguments: ["", "<sip:bob@example.com", #""Bob <sip:bob@example.com>"#, "Bob", "<notauri>", "sip:a@b?x=y"])
    func rejectsMalformedAddresses(_ text: String) {
        #expect(SIPNameAddress(text) == nil)
    }
}
