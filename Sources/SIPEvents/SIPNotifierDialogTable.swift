import SIPCore
import SIPSyntax

/// A notifier's dialog in the form it is kept between events: its URIs as their wire text (parsed
/// back into a ``SIPDialog`` when a NOTIFY is built) and the texts every subscription shares (our
/// URI and Contact) taken from a ``SIPStringInterner``, so a dialog costs about 100 bytes plus its
/// peer's URI instead of a full ``SIPDialog`` (about 550 bytes).
///
/// URIs round-trip through their text, as a saved ``SIPDialog`` does (RFC 3261 §12.1: the dialog
/// state is the IDs, the URIs, the target, the route set and the sequence numbers).
struct SIPNotifierDialog: Hashable, Sendable {
    var localURI: String
    /// The peer's URI and Contact, in the arena (one copy when equal, as they often are).
    var remoteURI: SIPArenaText
    var remoteTarget: SIPArenaText
    var localContact: String?
    var routeSet: [String]
    var localSequence: UInt32?
    var remoteSequence: UInt32?
    var isSecure: Bool

    /// The compact form of `dialog`, reusing the texts of `previous` (its earlier form) that did
    /// not change, so that a refresh adds nothing to the arena.
    init(_ dialog: SIPDialog, previous: SIPNotifierDialog?, interner: inout SIPStringInterner) {
        localURI = interner.intern(dialog.localURI.description)
        let remote = dialog.remoteURI.description
        let target = dialog.remoteTarget.description
        let earlierRemote = previous.map { ($0.remoteURI, $0.remoteURI.string) }
        let earlierTarget = previous.map { ($0.remoteTarget, $0.remoteTarget.string) }
        if let earlierRemote, earlierRemote.1 == remote {
            remoteURI = earlierRemote.0
        } else if let earlierTarget, earlierTarget.1 == remote {
            remoteURI = earlierTarget.0
        } else {
            remoteURI = SIPArenaText(remote)
        }
        // A subscriber's Contact is often its From URI: keep one copy of the text.
        if target == remote {
            remoteTarget = remoteURI
        } else if let earlierTarget, earlierTarget.1 == target {
            remoteTarget = earlierTarget.0
        } else {
            remoteTarget = SIPArenaText(target)
        }
        localContact = dialog.localContact.map { interner.intern($0.description) }
        routeSet = dialog.routeSet.map(\.description)
        localSequence = dialog.localSequence
        remoteSequence = dialog.remoteSequence
        isSecure = dialog.isSecure
    }

    /// The full dialog; `nil` if a stored URI no longer parses (it was written from a parsed one).
    func dialog(id: SIPDialogID) -> SIPDialog? {
        guard let local = SIPURI(localURI), let remote = SIPURI(remoteURI.string), let target = SIPURI(remoteTarget.string) else { return nil }
        var contact: SIPURI?
        if let localContact {
            guard let parsed = SIPURI(localContact) else { return nil }
            contact = parsed
        }
        var routes: [SIPURI] = []
        for text in routeSet {
            guard let route = SIPURI(text) else { return nil }
            routes.append(route)
        }
        return SIPDialog(
            id: id, localURI: local, remoteURI: remote, remoteTarget: target, localContact: contact, routeSet: routes,
            localSequence: localSequence, remoteSequence: remoteSequence, isSecure: isSecure)
    }
}

/// One entry of the notifier's per-dialog table: the dialog and the subscriptions it carries
/// (usually one; RFC 6665 §4.5.2 allows several per dialog).
struct SIPNotifierDialogEntry: Sendable {
    enum Keys: Sendable {
        case one(SIPSubscriptionKey)
        case many([SIPSubscriptionKey])

        var all: [SIPSubscriptionKey] {
            switch self {
            case .one(let key): [key]
            case .many(let keys): keys
            }
        }
    }

    var dialog: SIPNotifierDialog?
    var keys: Keys?

    var isEmpty: Bool { dialog == nil && keys == nil }

    mutating func add(_ key: SIPSubscriptionKey) {
        switch keys {
        case nil: keys = .one(key)
        case .one(let first): keys = .many([first, key])
        case .many(let all): keys = .many(all + [key])
        }
    }

    mutating func remove(_ key: SIPSubscriptionKey) {
        let remaining = (keys?.all ?? []).filter { $0 != key }
        switch remaining.count {
        case 0: keys = nil
        case 1: keys = .one(remaining[0])
        default: keys = .many(remaining)
        }
    }
}

/// Shares the storage of strings that many subscriptions repeat (our AoR, our Contact, the watched
/// resource): a string equal to one of the last few seen is replaced by that one, whose buffer is
/// then shared instead of copied. Bounded, so rare strings do not accumulate.
struct SIPStringInterner: Sendable {
    private var recent: [String] = []
    private var next = 0
    private let capacity = 16

    init() {}

    /// `text`, or an equal string seen recently (sharing its storage).
    mutating func intern(_ text: String) -> String {
        // Short strings are stored inline: nothing to share.
        guard text.utf8.count > 15 else { return text }
        if let seen = recent.first(where: { $0 == text }) { return seen }
        if recent.count < capacity {
            recent.append(text)
        } else {
            recent[next] = text
            next = (next + 1) % capacity
        }
        return text
    }
}
