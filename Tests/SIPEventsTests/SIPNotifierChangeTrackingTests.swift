import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

/// The change record lets an owner persist and undo only what one event touched.
@Suite struct SIPNotifierChangeTrackingTests {
    /// Subscribes `count` subscribers on their own dialogs; returns the NOTIFY of the last one.
    private func subscribeMany(_ h: inout NotifierHarness, count: Int) -> SIPRequest? {
        var last: SIPRequest?
        for index in 0..<count {
            let request = Fixtures.subscribe(callID: "sub-\(index)@atlanta", fromTag: "ftag\(index)")
            last = h.on { $0.subscribeReceived(request, now: $1, using: &$2) }.notifies.last
        }
        return last
    }

    @Test func changesRecordOnlyTheSubscriptionAndDialogAnEventTouched() throws {
        var h = NotifierHarness()
        _ = subscribeMany(&h, count: 50)
        h.notifier.beginChanges()
        let notify = try #require(
            h.on { $0.subscribeReceived(Fixtures.subscribe(callID: "new@atlanta", fromTag: "fnew"), now: $1, using: &$2) }.notifies.first)

        let key = try #require(h.notifier.subscriptions.keys.first { $0.dialogID.callID == "new@atlanta" })
        #expect(Array(h.notifier.changes.subscriptions.keys) == [key])
        #expect(Array(h.notifier.changes.dialogs.keys) == [key.dialogID])
        // Both were new: their earlier value is "absent".
        #expect(h.notifier.changes.subscriptions[key] == .some(nil))

        // The NOTIFY's 200 touches that one subscription only (its outstanding CSeq).
        h.notifier.beginChanges()
        h.on { $0.notifyResponseReceived(Fixtures.response(200, to: notify, toTag: "fnew"), now: $1) }
        #expect(Array(h.notifier.changes.subscriptions.keys) == [key])
        #expect(h.notifier.changes.dialogs.isEmpty)
        #expect(h.notifier.subscriptions[key]?.outstandingNotifyCSeq == nil)
    }

    @Test func rollBackRestoresTouchedEntriesAndLeavesOthersAlone() throws {
        var h = NotifierHarness()
        _ = subscribeMany(&h, count: 3)
        let before = h.notifier.snapshot
        h.notifier.beginChanges()
        h.on { $0.subscribeReceived(Fixtures.subscribe(callID: "new@atlanta", fromTag: "fnew"), now: $1, using: &$2) }
        let old = try #require(h.notifier.subscriptions.keys.first { $0.dialogID.callID == "sub-1@atlanta" })
        h.on { $0.terminate(old, reason: .deactivated, now: $1) }
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("{}"), now: $1) }
        #expect(h.notifier.count == 3)

        h.notifier.rollBackChanges()
        #expect(h.notifier.snapshot == before)
        #expect(h.notifier.changes.isEmpty)
        // The per-dialog index was put back too: the restored subscription is found by its dialog.
        #expect(h.notifier.subscriptionKeys(inDialog: old.dialogID) == [old])
        #expect(h.notifier.subscriptions.keys.allSatisfy { h.notifier.subscriptionKeys(inDialog: $0.dialogID) == [$0] })
    }

    @Test func nothingIsRecordedUntilBeginChanges() {
        var h = NotifierHarness()
        _ = subscribeMany(&h, count: 2)
        #expect(h.notifier.changes.isEmpty)
    }

    @Test func notify481RemovesEverySubscriptionOfItsDialogFoundThroughTheIndex() throws {
        var h = NotifierHarness()
        let first = h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }
        let toTag = try #require(first.responses.first?.headers.to?.tag)
        // A second subscription (Event id) in the same dialog (RFC 6665 §4.5.2).
        let second = Fixtures.subscribe(event: "m2m-alarm;id=2", cseq: 2, toTag: toTag)
        let notify = try #require(h.on { $0.subscribeReceived(second, now: $1, using: &$2) }.notifies.first)
        #expect(h.notifier.count == 2)
        let dialogID = try #require(h.notifier.dialogs.keys.first)
        #expect(h.notifier.subscriptionKeys(inDialog: dialogID).count == 2)

        h.on { $0.notifyResponseReceived(Fixtures.response(481, to: notify, toTag: "ftag"), now: $1) }
        #expect(h.notifier.count == 0)
        #expect(h.notifier.dialogs.isEmpty)
        #expect(h.notifier.subscriptionKeys(inDialog: dialogID).isEmpty)
    }
}
