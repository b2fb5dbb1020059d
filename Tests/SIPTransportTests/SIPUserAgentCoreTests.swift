import SIPSyntax
import Testing
@testable import SIPTransport

@Suite struct SIPUserAgentCoreTests {
    private func makeCore() -> SIPUserAgentCore {
        var configuration = SIPUserAgentCore.Configuration()
        configuration.serverName = "smf/0.1.0"
        configuration.supportedOptionTags = ["path"]
        configuration.makeTag = { "fixedtag" }
        return SIPUserAgentCore(configuration: configuration)
    }

    private func incoming(
        _ method: String,
        uri: String = "sip:ping@127.0.0.1:5060",
        branch: String = "z9hG4bKbranch1",
        cseq: UInt32 = 1,
        extra: [(String, String)] = [],
        version: String = "SIP/2.0"
    ) -> SIPIncomingRequest {
        var headers: [(String, String)] = [
            ("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch);received=127.0.0.1;rport=5070"),
            ("Via", "SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKupstream"),
            ("Max-Forwards", "70"),
            ("From", "<sip:alice@127.0.0.1>;tag=fromtag"),
            ("To", "<sip:ping@127.0.0.1>"),
            ("Call-ID", "call-1@test"),
            ("CSeq", "\(cseq) \(method)"),
            ("Timestamp", "54"),
        ]
        headers.append(contentsOf: extra)
        let request = SIPRequest(method: SIPMethod(method), uri: SIPURI(uri)!, version: version, headers: SIPHeaders(headers))
        return SIPIncomingRequest(request: request, source: SIPDestination(transport: .udp, host: "127.0.0.1", port: 5070))
    }

    @Test func answersOptionsWithAllowAcceptSupportedAndCopiedHeaders() async throws {
        let response = try #require(await makeCore().handle(incoming("OPTIONS")))
        #expect(response.statusCode == 200)
        #expect(response.headers["Allow"] == "OPTIONS")
        #expect(response.headers["Accept"] == "application/pidf+xml, text/plain")
        #expect(response.headers["Supported"] == "path")
        #expect(response.headers["Server"] == "smf/0.1.0")
        #expect(response.headers.values("Via").count == 2)  // §8.2.6.2: all Vias, in order
        #expect(response.headers.vias.first?.branch == "z9hG4bKbranch1")
        #expect(response.headers.callID == "call-1@test")
        #expect(response.headers.cseq == SIPCSeq(sequence: 1, method: .options))
        #expect(response.headers.from?.tag == "fromtag")
        #expect(response.headers.to?.tag == "fixedtag")  // §8.2.6.2
        #expect(response.headers["Timestamp"] == "54")
    }

    @Test func allowListsRegisteredMethodsAndAcceptTheirBodies() async throws {
        let core = makeCore()
        await core.register(.message, accepting: ["text/html"]) { request in .answering(request.request, statusCode: 202) }
        let options = try #require(await core.handle(incoming("OPTIONS")))
        #expect(options.headers["Allow"] == "OPTIONS, MESSAGE")
        #expect(options.headers["Accept"] == "application/pidf+xml, text/plain, text/html")
        let message = try #require(await core.handle(incoming("MESSAGE")))
        #expect(message.statusCode == 202)
        #expect(message.headers.to?.tag == "fixedtag")
        #expect(message.headers["Server"] == "smf/0.1.0")
    }

    @Test func unknownMethodGets501WithAllow() async throws {
        let response = try #require(await makeCore().handle(incoming("FOOBAR")))
        #expect(response.statusCode == 501)
        #expect(response.reasonPhrase == "Not Implemented")
        #expect(response.headers["Allow"] == "OPTIONS")
        #expect(response.headers.to?.tag == "fixedtag")
    }

    @Test(arguments: ["INVITE", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REGISTER", "BYE"])
    func knownButUnsupportedMethodGets405WithAllow(method: String) async throws {
        let response = try #require(await makeCore().handle(incoming(method)))
        #expect(response.statusCode == 405)
        #expect(response.headers["Allow"] == "OPTIONS")
    }

    @Test func maxForwardsZeroGets483ExceptForOptions() async throws {
        let core = makeCore()
        await core.register(.message) { .answering($0.request, statusCode: 200) }
        let message = try #require(await core.handle(incoming("MESSAGE", extra: [])).map { $0 })
        #expect(message.statusCode == 200)
        var zero = incoming("MESSAGE", branch: "z9hG4bKmf0", cseq: 2)
        zero.request.headers.replaceOrAdd(name: "Max-Forwards", value: "0")
        #expect(try #require(await core.handle(zero)).statusCode == 483)
        var options = incoming("OPTIONS", branch: "z9hG4bKmf1", cseq: 3)
        options.request.headers.replaceOrAdd(name: "Max-Forwards", value: "0")
        #expect(try #require(await core.handle(options)).statusCode == 200)
    }

    @Test func unsupportedURISchemeGets416() async throws {
        let response = try #require(await makeCore().handle(incoming("OPTIONS", uri: "tel:+15551234567")))
        #expect(response.statusCode == 416)
    }

    @Test func unsupportedVersionGets505() async throws {
        let response = try #require(await makeCore().handle(incoming("OPTIONS", version: "SIP/3.0")))
        #expect(response.statusCode == 505)
    }

    @Test func unknownRequiredOptionTagGets420ListingUnsupported() async throws {
        let response = try #require(await makeCore().handle(incoming("OPTIONS", extra: [("Require", "path, 100rel, foo")])))
        #expect(response.statusCode == 420)
        #expect(response.headers["Unsupported"] == "100rel, foo")
        let supported = try #require(await makeCore().handle(incoming("OPTIONS", extra: [("Require", "path")])))
        #expect(supported.statusCode == 200)
    }

    @Test func mergedRequestFromAnotherPathGets482() async throws {
        let core = makeCore()
        #expect(try #require(await core.handle(incoming("OPTIONS", branch: "z9hG4bKpath1"))).statusCode == 200)
        // Same From tag, Call-ID and CSeq, no To tag, different branch: the request forked and merged (§8.2.2.2).
        #expect(try #require(await core.handle(incoming("OPTIONS", branch: "z9hG4bKpath2"))).statusCode == 482)
        // A new CSeq is a new request.
        #expect(try #require(await core.handle(incoming("OPTIONS", branch: "z9hG4bKpath3", cseq: 2))).statusCode == 200)
    }

    @Test func ackIsNeverAnswered() async {
        #expect(await makeCore().handle(incoming("ACK")) == nil)
    }

    @Test func existingToTagIsKeptAnd100GetsNoTag() async throws {
        let core = makeCore()
        await core.register(.info) { .answering($0.request, statusCode: 100) }
        let trying = try #require(await core.handle(incoming("INFO")))
        #expect(trying.headers.to?.tag == nil)
        var inDialog = incoming("OPTIONS", branch: "z9hG4bKdialog")
        inDialog.request.headers.replaceOrAdd(name: "To", value: "<sip:ping@127.0.0.1>;tag=existing")
        #expect(try #require(await core.handle(inDialog)).headers.to?.tag == "existing")
    }

    @Test func randomTagsHaveTenHexDigitsAndDiffer() {
        let tags = (0..<20).map { _ in SIPUserAgentCore.randomTag() }
        #expect(tags.allSatisfy { $0.count == 10 && $0.allSatisfy(\.isHexDigit) })
        #expect(Set(tags).count > 1)
    }
}
