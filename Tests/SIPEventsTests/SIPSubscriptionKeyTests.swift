import Foundation
import SIPCore
import SIPSyntax
import Testing

@testable import SIPEvents

/// The packed subscription key must behave exactly like the pair of fields it replaces.
@Suite struct SIPSubscriptionKeyTests {
    private let dialog = SIPDialogID(callID: "bench-1x2y-9999@127.0.0.1", localTag: "k3j4h5g6f7d8", remoteTag: "w1x2y9999")

    @Test func keyGivesBackItsDialogAndEventAndComparesByBoth() {
        let kitchen = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        #expect(kitchen.dialogID == dialog)
        #expect(kitchen.event == SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        #expect(kitchen == SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: "kitchen")))
        // An absent id differs from an empty one, as the Event header's own comparison says.
        let noID = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm"))
        let emptyID = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: ""))
        #expect(noID != emptyID)
        #expect(noID.event.id == nil)
        #expect(emptyID.event.id == "")
        #expect(Set([kitchen, noID, emptyID, kitchen]).count == 3)
        // Fields are delimited by their lengths, not by a character they might contain.
        let shifted = SIPSubscriptionKey(
            dialogID: SIPDialogID(callID: "bench-1x2y-9999@127.0.0.1k", localTag: "3j4h5g6f7d8", remoteTag: "w1x2y9999"),
            event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        #expect(shifted != kitchen)
    }

    @Test func settingADialogOrEventKeepsTheOtherPart() {
        var key = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "presence"))
        key.event = SIPEventHeader(package: "m2m-alarm", id: "7")
        #expect(key.dialogID == dialog)
        key.dialogID.remoteTag = "other"
        #expect(key.event == SIPEventHeader(package: "m2m-alarm", id: "7"))
        #expect(key.dialogID.remoteTag == "other")
        #expect(key.description == "\(key.dialogID) Event: m2m-alarm;id=7")
    }

    @Test func longAndNonASCIIFieldsRoundTrip() {
        let long = SIPDialogID(callID: String(repeating: "c", count: 300) + "@host", localTag: "ä€𝄞", remoteTag: String(repeating: "r", count: 20_000))
        let key = SIPSubscriptionKey(dialogID: long, event: SIPEventHeader(package: "presence.winfo", id: String(repeating: "i", count: 128)))
        #expect(key.dialogID == long)
        #expect(key.event.package == "presence.winfo")
        #expect(key.event.id?.count == 128)
    }

    @Test func savedFormIsTheFieldsOfTheDialogAndEventAsBefore() throws {
        let key = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(key), as: UTF8.self)
        #expect(
            json
                == #"{"dialogID":{"callID":"bench-1x2y-9999@127.0.0.1","localTag":"k3j4h5g6f7d8","remoteTag":"w1x2y9999"},"event":{"id":"kitchen","package":"m2m-alarm"}}"#
        )
        // A record written before the key was packed still reads.
        let saved = #"{"event":{"package":"presence"},"dialogID":{"remoteTag":"w1x2y9999","callID":"bench-1x2y-9999@127.0.0.1","localTag":"k3j4h5g6f7d8"}}"#
        let decoded = try JSONDecoder().decode(SIPSubscriptionKey.self, from: Data(saved.utf8))
        #expect(decoded == SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "presence")))
    }

    @Test func dialogPartOfAKeyEqualsTheDialogsOwnKey() {
        let first = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        let second = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "presence"))
        #expect(first.dialogKey == second.dialogKey)
        #expect(first.dialogKey == SIPNotifierDialogKey(dialog))
        #expect(first.dialogKey.hashValue == SIPNotifierDialogKey(dialog).hashValue)
        #expect(first.dialogKey.dialogID == dialog)
        var other = dialog
        other.localTag = "x"
        #expect(first.dialogKey != SIPNotifierDialogKey(other))
    }

    @Test func readingATruncatedBufferNeverTraps() {
        let bytes: [UInt8] = [0xFF, 0xFF, 0x7F, 0x41]
        bytes.withUnsafeBytes { raw in
            var reader = PackedFields.Reader(raw)
            #expect(reader.next() == "A")
            #expect(reader.next() == "")
            #expect(reader.nextOptional() == nil)
        }
    }

    @Test func keyKeptInTheArenaEqualsAndHashesLikeTheKeyItCameFrom() {
        let key = SIPSubscriptionKey(dialogID: dialog, event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        let kept = key.inArena
        #expect(kept == key)
        #expect(kept.hashValue == key.hashValue)
        #expect(kept.dialogID == dialog)
        #expect(kept.event == key.event)
        #expect(kept.dialogKey == SIPNotifierDialogKey(dialog))
        #expect(Set([key, kept]).count == 1)
        // Many keys share chunks; each keeps its own bytes, long ones included.
        let many = (0..<2_000).map { index in
            SIPSubscriptionKey(
                dialogID: SIPDialogID(callID: "call-\(index)" + String(repeating: "x", count: index % 7 == 0 ? 5_000 : index % 50), localTag: "l\(index)", remoteTag: "r"),
                event: SIPEventHeader(package: "presence")
            ).inArena
        }
        #expect(many.enumerated().allSatisfy { $0.element.dialogID.localTag == "l\($0.offset)" })
        #expect(Set(many).count == 2_000)
    }
}
