import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPTransactionKeyTests {
    @Test func responseMatchesClientTransactionByBranchAndCSeqMethod() throws {
        let request = TestMessages.request(.register, branch: "z9hG4bKreg1")
        let key = try SIPTransactionKey.client(for: request)
        #expect(SIPTransactionKey.client(matching: TestMessages.response(200, to: request)) == key)
        #expect(key.branch == "z9hG4bKreg1")
        #expect(key.method == .register)
    }

    @Test func responseWithADifferentCSeqMethodDoesNotMatch() throws {
        let invite = TestMessages.request(.invite, branch: "z9hG4bKsame")
        let cancel = TestMessages.request(.cancel, branch: "z9hG4bKsame")
        let inviteKey = try SIPTransactionKey.client(for: invite)
        let cancelKey = try SIPTransactionKey.client(for: cancel)
        #expect(inviteKey != cancelKey)
        #expect(SIPTransactionKey.client(matching: TestMessages.response(200, to: cancel)) == cancelKey)
        #expect(SIPTransactionKey.client(matching: TestMessages.response(200, to: cancel)) != inviteKey)
    }

    @Test func responseWithADifferentBranchDoesNotMatch() throws {
        let key = try SIPTransactionKey.client(for: TestMessages.request(.options, branch: "z9hG4bKone"))
        #expect(SIPTransactionKey.client(matching: TestMessages.response(200, to: TestMessages.request(.options, branch: "z9hG4bKtwo"))) != key)
    }

    @Test func clientKeyRequiresBranchAndConsistentCSeq() {
        #expect(throws: SIPTransactionError.missingCSeq) {
            var request = TestMessages.request(.options)
            request.headers.remove("CSeq")
            _ = try SIPTransactionKey.client(for: request)
        }
        #expect(throws: SIPTransactionError.missingBranch) {
            var request = TestMessages.request(.options)
            request.headers.replaceOrAdd(name: "Via", value: "SIP/2.0/UDP host.example.com")
            _ = try SIPTransactionKey.client(for: request)
        }
        #expect(throws: SIPTransactionError.cseqMethodMismatch) {
            _ = try SIPTransactionKey.client(for: TestMessages.request(.options, cseqMethod: .info))
        }
    }

    @Test func ackForNon2xxMatchesTheInviteServerTransaction() throws {
        let invite = TestMessages.request(.invite)
        let ack = TestMessages.request(.ack, toTag: "a6c85cf")
        #expect(try SIPTransactionKey.server(for: ack) == SIPTransactionKey.server(for: invite))
    }

    @Test func ackForA2xxHasItsOwnBranchAndMatchesNothing() throws {
        let invite = TestMessages.request(.invite)
        let ack = TestMessages.request(.ack, branch: "z9hG4bKnewack", toTag: "a6c85cf")
        #expect(try SIPTransactionKey.server(for: ack) != SIPTransactionKey.server(for: invite))
    }

    @Test func cancelIsASeparateServerTransactionThatFindsItsInvite() throws {
        let invite = TestMessages.request(.invite)
        let cancel = TestMessages.request(.cancel)
        #expect(try SIPTransactionKey.server(for: cancel) != SIPTransactionKey.server(for: invite))
        #expect(try SIPTransactionKey.inviteServer(cancelledBy: cancel) == SIPTransactionKey.server(for: invite))
    }

    @Test func sameBranchFromAnotherSentByIsAnotherServerTransaction() throws {
        let a = TestMessages.request(.options, sentBy: "a.example.com")
        let b = TestMessages.request(.options, sentBy: "b.example.com:5070")
        let aUpper = TestMessages.request(.options, sentBy: "A.EXAMPLE.COM")
        #expect(try SIPTransactionKey.server(for: a) != SIPTransactionKey.server(for: b))
        #expect(try SIPTransactionKey.server(for: a) == SIPTransactionKey.server(for: aUpper))
    }

    @Test func rfc2543RequestsWithoutTheMagicCookieMatchOnDialogFieldsAndTopVia() throws {
        let invite = TestMessages.request(.invite, branch: "oldstyle1")
        let key = try SIPTransactionKey.server(for: invite)
        #expect(key.isRFC2543)
        #expect(key.branch == nil)

        #expect(try SIPTransactionKey.server(for: TestMessages.request(.invite, branch: "oldstyle1")) == key)
        #expect(try SIPTransactionKey.server(for: TestMessages.request(.ack, branch: "oldstyle1", toTag: "x")) == key)
        #expect(try SIPTransactionKey.server(for: TestMessages.request(.invite, branch: "oldstyle1", cseq: 2)) != key)
        #expect(try SIPTransactionKey.server(for: TestMessages.request(.invite, branch: "oldstyle1", fromTag: "other")) != key)
        #expect(try SIPTransactionKey.server(for: TestMessages.request(.invite, branch: "oldstyle1", callID: "other@x")) != key)
        #expect(try SIPTransactionKey.server(for: TestMessages.request(.invite, branch: "oldstyle2")) != key)

        let bye = TestMessages.request(.bye, branch: "oldbye", toTag: "t1")
        #expect(try SIPTransactionKey.server(for: bye) != SIPTransactionKey.server(for: TestMessages.request(.bye, branch: "oldbye", toTag: "t2")))
    }

    @Test func branchesStartWithTheMagicCookieAndRepeatForTheSameSeed() {
        var first = SplitMix64(state: 42)
        var second = SplitMix64(state: 42)
        let a = SIPBranch.make(using: &first)
        let b = SIPBranch.make(using: &second)
        let c = SIPBranch.make(using: &first)
        #expect(a == b)
        #expect(a != c)
        #expect(a.hasPrefix("z9hG4bK"))
        #expect(a.count == 7 + SIPBranch.randomLength)
        #expect(SIPBranch.make() != SIPBranch.make())
    }
}

@Suite struct SIPTransactionMessagesTests {
    @Test func cancelCopiesTheInviteFieldsAndMatchesItsServerTransaction() throws {
        let invite = TestMessages.request(
            .invite,
            toTag: nil,
            extraVias: ["SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy"],
            routes: ["<sip:p1.example.com;lr>"]
        )
        let cancel = SIPTransactionMessages.cancel(for: invite)
        #expect(cancel.method == .cancel)
        #expect(cancel.uri == invite.uri)
        #expect(cancel.headers.values("Via") == ["SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"])
        #expect(cancel.headers.values("Route") == ["<sip:p1.example.com;lr>"])
        for name in ["From", "To", "Call-ID"] {
            #expect(cancel.headers[name] == invite.headers[name], "\(name)")
        }
        #expect(cancel.headers["CSeq"] == "314159 CANCEL")
        #expect(try SIPTransactionKey.inviteServer(cancelledBy: cancel) == SIPTransactionKey.server(for: invite))
        #expect(try SIPTransactionKey.client(for: cancel) != SIPTransactionKey.client(for: invite))
    }
}
