import NIOCore
import SIPSyntax
import Testing

/// RFC 4475 §3.1.1 (valid messages) and the syntactically valid messages of §3.2–§3.4.
@Suite struct TortureValidTests {
    @Test func wsinvShortTortuousInvite() throws {
        let request = try Torture.request("wsinv")
        let h = request.headers
        #expect(request.method == .invite)
        #expect(request.uri.user == "vivekg")
        #expect(request.uri.host == "chair-dnrc.example.com")
        #expect(request.uri.parameters["unknownparam"] == .some(nil))
        #expect(h.to?.uri.user == "vivekg")
        #expect(h.to?.tag == "1918181833n")
        #expect(h.from?.displayName == #"J Rosenberg \""#)
        #expect(h.from?.tag == "98asjd8")
        #expect(h.maxForwards == 68)
        #expect(h.callID == "wsinv.ndaksdj@192.0.2.1")
        #expect(h.contentLength == 150)
        #expect(h.cseq == SIPCSeq(sequence: 9, method: .invite))
        #expect(h.vias.map(\.host) == ["192.0.2.2", "spindle.example.com", "192.168.255.111"])
        #expect(h.vias.map(\.transport) == ["UDP", "TCP", "UDP"])
        #expect(h.vias.map(\.branch) == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
        #expect(h["subject"] == "")
        #expect(h["NewFangledHeader"] == "newfangled value continued newfangled value")
        #expect(h["UnknownHeaderWithUnusualValue"] == ";;,,;;,;")
        #expect(h.contentType == "application/sdp")
        let contact = try #require(h.contacts.first)
        #expect(h.contacts.count == 1)
        #expect(contact.displayName == #"Quoted string """#)
        #expect(contact.uri.user == "jdrosen")
        #expect(contact.parameters.value("newparam") == "newvalue")
        #expect(contact.parameters["secondparam"] == .some(nil))
        #expect(contact.parameters.value("q") == "0.33")
        #expect(h.routes.first?.uri.isLooseRouting == true)
        #expect(h.routes.first?.uri.parameters.value("unknownwith") == "value")
        #expect(request.body.readableBytes == 150)
        #expect(request.body.getString(at: request.body.readerIndex, length: 4) == "v=0\r")
    }

    @Test func intmethWideRangeOfValidCharacters() throws {
        let request = try Torture.request("intmeth")
        let h = request.headers
        #expect(request.method.rawValue == "!interesting-Method0123456789_*+`.%indeed'~")
        #expect(request.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        #expect(request.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        #expect(request.uri.host == "example.com")
        #expect(h.topVia?.branch == "z9hG4bK-.!%66*_+`'~")
        #expect(h.to?.displayName == "BEL:\u{07} NUL:\u{00} DEL:\u{7F}")
        #expect(h.to?.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        #expect(h.from?.displayName == "token1~` token2'+_ token3*%!.-")
        #expect(h.from?.tag == "_token~1'+`*%!-.")
        #expect(h.from?.parameters.unquotedValue("fromParam''~+*_!.-%") == "работающий")
        #expect(h.callID == #"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
        #expect(h.cseq == SIPCSeq(sequence: 139_122_385, method: request.method))
        #expect(h.maxForwards == 255)
        #expect(h["extensionHeader-!.%*+_`'~"] == "\u{FEFF}大停電")
        #expect(h.contentLength == 0)
    }

    @Test func esc01PercentEscapesInURIs() throws {
        let request = try Torture.request("esc01")
        let h = request.headers
        #expect(request.uri.user == "sips%3Auser%40example.com")
        #expect(SIPURI.percentDecoded(request.uri.user ?? "") == "sips:user@example.com")
        #expect(request.uri.host == "example.net")
        #expect(h.to.flatMap { SIPURI.percentDecoded($0.uri.user ?? "") } == "user")
        #expect(h.from.flatMap { SIPURI.percentDecoded($0.uri.user ?? "") } == "I have spaces")
        #expect(h.callID == "esc01.239409asdfakjkn23onasd0-3234")
        #expect(h.contentType == "application/sdp")
        let contact = try #require(h.contacts.first)
        #expect(contact.uri.user == "cal%6Cer")
        #expect(contact.uri.parameters["%6C%72"] == .some(nil))
        #expect(contact.uri.parameters.value("n%61me") == "v%61lue%25%34%31")
        #expect(SIPURI.percentDecoded("v%61lue%25%34%31") == "value%41")
        #expect(request.body.readableBytes == 150)
    }

    @Test func escnullKeepsEscapedNulls() throws {
        let request = try Torture.request("escnull")
        let h = request.headers
        #expect(request.method == .register)
        #expect(h.to?.uri.user == "null-%00-null")
        #expect(SIPURI.percentDecoded(h.to?.uri.user ?? "") == "null-\u{0}-null")
        #expect(h.contacts.map { $0.uri.user } == ["%00", "%00%00"])
        #expect(h.contentLength == 0)
    }

    @Test func esc02PercentIsNotAnEscapeInMethodsAndNames() throws {
        let request = try Torture.request("esc02")
        let h = request.headers
        #expect(request.method.rawValue == "RE%47IST%45R")
        #expect(request.method != .register)
        #expect(h.to?.displayName == "%Z%45")
        #expect(h.topVia?.branch == "z9hG4bK209%fzsnel234")
        #expect(h.contacts.map { $0.uri.user } == ["alias1", "alias3"])
        #expect(h["C%6Fntact"] == "<sip:alias2@host2.example.com>")
    }

    @Test func lwsdispNoSpaceBeforeAngleBracket() throws {
        let h = try Torture.request("lwsdisp").headers
        #expect(h.from?.displayName == "caller")
        #expect(h.from?.uri.user == "caller")
        #expect(h.from?.tag == "323")
    }

    @Test func longreqLongValues() throws {
        let request = try Torture.request("longreq")
        let h = request.headers
        let to = try #require(h.to)
        #expect(to.displayName == "I have a user name of \(String(repeating: "extreme", count: 10)) proportion")
        #expect(to.uri.port == 6000)
        #expect(to.uri.parameters.count == 3)
        #expect(h.from?.tag?.utf8.count == 155)
        #expect(h.from?.parameters.count == 3)
        #expect(h.callID?.hasPrefix("longreq.onereally") == true)
        let vias = h.vias
        #expect(vias.count == 34)
        #expect(vias.first?.host == "sip33.example.com")
        #expect(vias[32].host == "sip1.example.com")
        #expect(vias.last?.received == "192.0.2.5")
        #expect(vias.last?.branch?.hasSuffix("branchvalue") == true)
        #expect(h.contacts.first?.uri.host == "host5.example.net")
        #expect(request.body.readableBytes == 150)
    }

    @Test func dblreqIgnoresOctetsAfterContentLength() throws {
        let request = try Torture.request("dblreq")
        #expect(request.method == .register)
        #expect(request.headers.callID == "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
        #expect(request.body.readableBytes == 0)
    }

    @Test func semiuriUserPartWithSemicolon() throws {
        let request = try Torture.request("semiuri")
        #expect(request.uri.user == "user;par=u%40example.net")
        #expect(request.uri.host == "example.com")
        #expect(request.uri.parameters.isEmpty)
        #expect(
            request.headers.splitValues("Accept") == [
                "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed", "message/sip",
                "message/sipfrag",
            ])
    }

    @Test func transportsAllTransportTokens() throws {
        let vias = try Torture.request("transports").headers.vias
        #expect(vias.map(\.transport) == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
        #expect(vias.map(\.host) == ["t1.example.com", "t2.example.com", "t3.example.com", "t4.example.com", "t5.example.com"])
    }

    @Test func mpart01BinaryMultipartBodyKeptIntact() throws {
        let input = try Torture.bytes("mpart01")
        let request = try Torture.request("mpart01")
        #expect(request.method == .message)
        #expect(request.headers.contentType == "multipart/mixed;boundary=7a9cbec02ceef655")
        #expect(request.headers.topVia?.rport == .requested)
        #expect(request.headers.topVia?.port == 5070)
        #expect(request.body.readableBytes == 553)
        let bodyBytes = request.body.getBytes(at: request.body.readerIndex, length: 553) ?? []
        #expect(bodyBytes.contains(0))
        #expect(bodyBytes == input.getBytes(at: input.readableBytes - 553, length: 553))
        #expect(request.headers["Date"] == "Sat, 15 Oct 2005 04:44:56 GMT")
    }

    @Test func unreasonUTF8ReasonPhrase() throws {
        let response = try Torture.response("unreason")
        #expect(response.statusCode == 200)
        #expect(response.reasonPhrase == "= 2**3 * 5**2 но сто девяносто девять - простое")
        #expect(response.body.readableBytes == 154)
    }

    @Test func noreasonEmptyReasonPhrase() throws {
        let response = try Torture.response("noreason")
        #expect(response.statusCode == 100)
        #expect(response.reasonPhrase == "")
        #expect(response.headers.to?.tag == "902jndnke3")
    }

    @Test func badbranchCookieOnlyBranchParses() throws {
        let via = try #require(Torture.request("badbranch").headers.topVia)
        #expect(via.branch == "z9hG4bK")
    }

    @Test func unknownSchemesAreNotParseErrors() throws {
        let unkscm = try Torture.request("unkscm")
        #expect(unkscm.uri.scheme == "nobodyknowsthisscheme")
        #expect(unkscm.uri.opaque == "totallyopaquecontent")
        #expect(!unkscm.uri.isSIP)
        let novelsc = try Torture.request("novelsc")
        #expect(novelsc.uri.scheme == "soap.beep")
        #expect(novelsc.uri.opaque == "//192.0.2.103:3002")
        let unksm2 = try Torture.request("unksm2").headers
        #expect(unksm2.to?.uri.scheme == "isbn")
        #expect(unksm2.from?.uri.scheme == "http")
        #expect(unksm2.contacts.first?.uri.scheme == "name")
    }

    @Test func applicationLayerMessagesParse() throws {
        let bext01 = try Torture.request("bext01").headers
        #expect(bext01.splitValues("Proxy-Require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"])
        let invut = try Torture.request("invut")
        #expect(invut.headers.contentType == "application/unknownformat")
        #expect(invut.body.readableBytes == 40)
        let regaut01 = try Torture.request("regaut01").headers
        #expect(regaut01["Authorization"] == "NoOneKnowsThisScheme opaque-data=here")
        #expect(regaut01.contentLength == 0)
        let bcast = try Torture.response("bcast").headers
        #expect(bcast.vias.map(\.host) == ["192.0.2.198", "255.255.255.255"])
        #expect(try Torture.request("zeromf").headers.maxForwards == 0)
        let sdp01 = try Torture.request("sdp01")
        #expect(sdp01.headers["Accept"] == "text/nobodyKnowsThis")
        #expect(sdp01.body.readableBytes == 150)
    }

    @Test func contactParametersBelongToHeaderOrURIByBrackets() throws {
        let cparam01 = try #require(Torture.request("cparam01").headers.contacts.first)
        #expect(cparam01.uri.parameters.isEmpty)
        #expect(cparam01.parameters.contains("unknownparam"))
        let cparam02 = try #require(Torture.request("cparam02").headers.contacts.first)
        #expect(cparam02.uri.parameters.contains("unknownparam"))
        #expect(cparam02.parameters.isEmpty)
        let regescrt = try #require(Torture.request("regescrt").headers.contacts.first)
        #expect(regescrt.uri.headers == [SIPURI.Header(name: "Route", value: "%3Csip:sip.example.com%3E")])
    }

    @Test func inv2543WithoutContentLengthTakesRestOfDatagram() throws {
        let request = try Torture.request("inv2543")
        #expect(request.headers.contentLength == nil)
        #expect(request.headers.maxForwards == nil)
        #expect(request.body.readableBytes == 105)
        // In addr-spec form the ;user=phone after the URI is a header parameter (RFC 3261 §20.10).
        #expect(request.headers.to?.parameters.value("user") == "phone")
        #expect(request.headers.to?.uri.parameters.isEmpty == true)
        #expect(request.headers.from?.uri.parameters.value("user") == "phone")
        #expect(request.headers.recordRoutes.first?.uri.maddr == "ss1.example.com")
        #expect(request.headers.topVia?.branch == nil)
    }

    @Test(arguments: Torture.valid)
    func roundTripsThroughSerializer(_ name: String) throws {
        let first = try Torture.parse(name)
        let bytes = first.serializedBytes
        let second = try SIPParser().parse(datagram: bytes)
        if first.headers.contentLength == nil {
            // A correct Content-Length is always written; everything else is unchanged.
            #expect(second.headers.contentLength == first.body.readableBytes)
            var headers = second.headers
            headers.remove("Content-Length")
            #expect(headers == first.headers)
            #expect(second.body == first.body)
        } else {
            #expect(second == first)
            // Serialising a parsed message is stable.
            #expect(second.serializedBytes == bytes)
        }
    }
}
