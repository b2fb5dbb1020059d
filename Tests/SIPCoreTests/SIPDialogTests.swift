import Foundation
import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPDialogTests {
    static func subscribe() -> SIPRequest {
        TestMessages.request(.subscribe, cseq: 1)
    }

    static func ok(_ request: SIPRequest, recordRoutes: [String]) -> SIPResponse {
        var response = TestMessages.response(200, to: request)
        for route in recordRoutes { response.headers.add(name: "Record-Route", value: route) }
        response.headers.add(name: "Contact", value: "<sip:bob@192.0.2.4>")
        return response
    }

    @Test func uacDialogTakesReversedRecordRouteAndTheContactAsTarget() throws {
        let request = Self.subscribe()
        let dialog = try SIPDialog(uacRequest: request, response: Self.ok(request, recordRoutes: ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]))
        #expect(dialog.id == SIPDialogID(callID: "a84b4c76e66710@pc33.atlanta.example.com", localTag: "1928301774", remoteTag: "a6c85cf"))
        #expect(dialog.routeSet.map(\.host) == ["p1.example.com", "p2.example.com"])
        #expect(dialog.remoteTarget == SIPURI("sip:bob@192.0.2.4"))
        #expect(dialog.localSequence == 1)
        #expect(dialog.remoteSequence == nil)
    }

    @Test func inDialogRequestsGoToTheTargetViaLooseRoutesWithGrowingCSeq() throws {
        let request = Self.subscribe()
        var dialog = try SIPDialog(uacRequest: request, response: Self.ok(request, recordRoutes: ["<sip:p1.example.com;lr>"]))
        let first = dialog.makeRequest(method: .subscribe)
        let second = dialog.makeRequest(method: .bye)
        #expect(first.uri == SIPURI("sip:bob@192.0.2.4"))
        #expect(first.headers.routes.map(\.uri.host) == ["p1.example.com"])
        #expect(first.headers.cseq == SIPCSeq(sequence: 2, method: .subscribe))
        #expect(second.headers.cseq == SIPCSeq(sequence: 3, method: .bye))
        #expect(first.headers.to?.tag == "a6c85cf")
        #expect(first.headers.from?.tag == "1928301774")
        #expect(first.headers.contacts.first?.uri == SIPURI("sip:alice@pc33.atlanta.example.com"))
    }

    @Test func strictRouterFirstBecomesTheRequestURIAndTheTargetGoesLast() throws {
        let request = Self.subscribe()
        var dialog = try SIPDialog(uacRequest: request, response: Self.ok(request, recordRoutes: ["<sip:p1.example.com>"]))
        let next = dialog.makeRequest(method: .notify)
        #expect(next.uri.host == "p1.example.com")
        #expect(next.headers.routes.map(\.uri) == [SIPURI("sip:bob@192.0.2.4")])
    }

    @Test func lowerRemoteCSeqIsRefusedWith500AndHigherIsAccepted() throws {
        let incoming = TestMessages.request(.subscribe, cseq: 10)
        var dialog = try SIPDialog(uasRequest: incoming, localTag: "mine", localContact: nil)
        let inDialog = { (cseq: UInt32) in TestMessages.request(.notify, cseq: cseq, toTag: "mine") }
        #expect(throws: SIPDialogError.cseqOutOfOrder) { try dialog.validateRequest(inDialog(9)) }
        #expect(SIPDialogError.cseqOutOfOrder.statusCode == 500)
        try dialog.validateRequest(inDialog(11))
        #expect(dialog.remoteSequence == 11)
        #expect(throws: SIPDialogError.notInDialog) { try dialog.validateRequest(TestMessages.request(.notify, cseq: 12, toTag: "other")) }
    }

    @Test func savedDialogContinuesItsLocalSequenceAfterDecoding() throws {
        let incoming = TestMessages.request(.subscribe, cseq: 10)
        var dialog = try SIPDialog(uasRequest: incoming, localTag: "mine", localContact: SIPURI("sip:me@192.0.2.1"))
        _ = dialog.makeRequest(method: .notify)
        _ = dialog.makeRequest(method: .notify)
        var restored = try JSONDecoder().decode(SIPDialog.self, from: JSONEncoder().encode(dialog))
        #expect(restored == dialog)
        #expect(restored.makeRequest(method: .notify).headers.cseq?.sequence == 3)
    }

    @Test func dialogCreatingRequestWithoutContactIsRefused() {
        var request = TestMessages.request(.subscribe)
        request.headers.remove("Contact")
        #expect(throws: SIPDialogError.missingContact) { try SIPDialog(uasRequest: request, localTag: "t", localContact: nil) }
    }
}
