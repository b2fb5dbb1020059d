public import SIPCore
public import SIPSyntax

/// What identifies one subscription at a notifier: its dialog and its `Event` (package and
/// `id`), so one dialog can carry several subscriptions (RFC 6665 §4.1.2.1, §4.2.1).
///
/// Stored as one packed byte buffer (Call-ID, local tag, remote tag, package, `id`), so a key is a
/// single reference that the notifier's tables, its timers and its change records share: a node
/// with 10,000 subscriptions keeps each key once.
public struct SIPSubscriptionKey: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Length-prefixed UTF-8 of Call-ID, local tag, remote tag and package, then a presence byte
    /// and the `id` (see ``PackedFields``).
    let packed: SIPPackedStorage

    public init(dialogID: SIPDialogID, event: SIPEventHeader) {
        var fields = PackedFields.Writer(capacity: dialogID.callID.utf8.count + dialogID.localTag.utf8.count + dialogID.remoteTag.utf8.count + 24)
        fields.append(dialogID.callID)
        fields.append(dialogID.localTag)
        fields.append(dialogID.remoteTag)
        fields.append(event.package)
        fields.appendOptional(event.id)
        packed = .array(fields.bytes)
    }

    private init(packed: SIPPackedStorage) { self.packed = packed }

    /// The same key with its bytes in the shared text arena: the form a notifier keeps (see
    /// ``SIPArenaBytes``).
    var inArena: SIPSubscriptionKey { SIPSubscriptionKey(packed: packed.inArena) }

    /// The dialog that carries the subscription.
    public var dialogID: SIPDialogID {
        get {
            packed.withUnsafeBytes { bytes in
                var reader = PackedFields.Reader(bytes)
                return SIPDialogID(callID: reader.next(), localTag: reader.next(), remoteTag: reader.next())
            }
        }
        set { self = SIPSubscriptionKey(dialogID: newValue, event: event) }
    }

    /// The subscription's `Event` (package and `id`).
    public var event: SIPEventHeader {
        get {
            packed.withUnsafeBytes { bytes in
                var reader = PackedFields.Reader(bytes)
                reader.skip(3)
                let package = reader.next()
                return SIPEventHeader(package: package, id: reader.nextOptional())
            }
        }
        set { self = SIPSubscriptionKey(dialogID: dialogID, event: newValue) }
    }

    /// The event package name (without decoding the rest).
    var package: String {
        packed.withUnsafeBytes { bytes in
            var reader = PackedFields.Reader(bytes)
            reader.skip(3)
            return reader.next()
        }
    }

    /// The dialog part, sharing this key's buffer.
    var dialogKey: SIPNotifierDialogKey {
        SIPNotifierDialogKey(packed: packed, length: packed.withUnsafeBytes { PackedFields.Reader.prefixLength($0, fields: 3) })
    }

    public var description: String { "\(dialogID) Event: \(event)" }

    private enum CodingKeys: String, CodingKey {
        case dialogID, event
    }

    /// The same form as the two fields would have: `{"dialogID": …, "event": …}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dialogID, forKey: .dialogID)
        try container.encode(event, forKey: .event)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            dialogID: try container.decode(SIPDialogID.self, forKey: .dialogID), event: try container.decode(SIPEventHeader.self, forKey: .event))
    }
}

/// The dialog part of a ``SIPSubscriptionKey`` (Call-ID and tags), sharing the key's buffer: the
/// notifier's per-dialog table is keyed by it.
struct SIPNotifierDialogKey: Hashable, Sendable {
    private let packed: SIPPackedStorage
    private let length: Int

    init(packed: SIPPackedStorage, length: Int) {
        self.packed = packed
        self.length = length
    }

    init(_ id: SIPDialogID) {
        var fields = PackedFields.Writer(capacity: id.callID.utf8.count + id.localTag.utf8.count + id.remoteTag.utf8.count + 8)
        fields.append(id.callID)
        fields.append(id.localTag)
        fields.append(id.remoteTag)
        self.init(packed: .array(fields.bytes), length: fields.bytes.count)
    }

    var dialogID: SIPDialogID {
        packed.withUnsafeBytes { bytes in
            var reader = PackedFields.Reader(bytes)
            return SIPDialogID(callID: reader.next(), localTag: reader.next(), remoteTag: reader.next())
        }
    }

    static func == (lhs: SIPNotifierDialogKey, rhs: SIPNotifierDialogKey) -> Bool {
        lhs.length == rhs.length && lhs.packed.prefixEquals(rhs.packed, length: lhs.length)
    }

    func hash(into hasher: inout Hasher) {
        packed.withUnsafeBytes { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
    }
}

/// Strings packed into one byte buffer, each as a LEB128 length and its UTF-8; an optional one
/// is a presence byte (0 or 1) and then, when present, a string.
enum PackedFields {
    struct Writer {
        private(set) var bytes: [UInt8] = []

        init(capacity: Int) { bytes.reserveCapacity(capacity) }

        mutating func append(_ text: String) {
            var count = text.utf8.count
            while count >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: count) | 0x80)
                count >>= 7
            }
            bytes.append(UInt8(count))
            bytes.append(contentsOf: text.utf8)
        }

        mutating func appendOptional(_ text: String?) {
            if let text {
                bytes.append(1)
                append(text)
            } else {
                bytes.append(0)
            }
        }
    }

    /// Reads what a ``Writer`` wrote; reading past the end yields empty strings (never traps).
    struct Reader {
        private let bytes: UnsafeRawBufferPointer
        private(set) var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        private mutating func length() -> Int {
            var value = 0
            var shift = 0
            while offset < bytes.count, shift < 63 {
                let byte = bytes[offset]
                offset += 1
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return min(value, bytes.count - offset)
        }

        mutating func next() -> String {
            let count = length()
            defer { offset += count }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]), as: UTF8.self)
        }

        mutating func nextOptional() -> String? {
            guard offset < bytes.count else { return nil }
            let present = bytes[offset]
            offset += 1
            return present == 0 ? nil : next()
        }

        mutating func skip(_ fields: Int) {
            for _ in 0..<fields { offset += length() }
        }

        /// The byte count of the first `fields` strings.
        static func prefixLength(_ bytes: UnsafeRawBufferPointer, fields: Int) -> Int {
            var reader = Reader(bytes)
            reader.skip(fields)
            return reader.offset
        }
    }
}

/// Timers the notifier asks its owner to run.
public enum SIPNotifierTimer: Hashable, Sendable {
    /// The subscription's lifetime ran out (RFC 6665 §4.2.2).
    case expiry(SIPSubscriptionKey)
    /// The rate limit allows the next NOTIFY now (RFC 6665 §5.4.7).
    case throttle(SIPSubscriptionKey)
}

/// How a resource is named for matching subscriptions and publications to state: `scheme:user@host`
/// of its address of record, host lower-cased, without port and parameters.
public enum SIPEventResource {
    public static func key(for uri: SIPURI) -> String {
        if let opaque = uri.opaque { return "\(uri.scheme):\(opaque)" }
        let user = uri.user.map { "\($0)@" } ?? ""
        return "\(uri.scheme):\(user)\(uri.host.lowercased())"
    }

    /// ``key(for:)`` followed by the URI parameters named in `parameters` that `uri` carries, in that order
    /// (`;name=value`, the value percent-decoded), for packages whose resources differ by a parameter (e.g. one
    /// alarm resource per supporter: `sip:app.notifier@host;supporter=bob%40north.example`).
    public static func key(for uri: SIPURI, keeping parameters: [String]) -> String {
        var key = key(for: uri)
        for name in parameters {
            guard let value = uri.parameters.value(name) else { continue }
            key += ";\(name.lowercased())=\(percentDecoded(value))"
        }
        return key
    }

    /// `value` with its `%XX` escapes decoded (RFC 3261 §25.1); an invalid escape stays as it is.
    static func percentDecoded(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One subscription as the notifier sees it (RFC 6665 §4.2): pending or active, its expiry,
/// the last state sent and the rate limit on NOTIFYs.
///
/// A pure state machine: each event method returns ``Effect``s that ``SIPNotifier`` turns into
/// NOTIFY requests (built on the shared dialog) and timer actions. It is `Codable` so a restart
/// can continue it (see ``SIPNotifier/Snapshot``).
///
/// ```
///   SUBSCRIBE ──► pending ──authorized──► active ──expiry / Expires: 0 / terminate──► (removed)
///                    └──────────rejected / expiry / terminate──────────────────────────┘
/// ```
public struct SIPNotifierSubscription: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        case pending
        case active
        case terminated
    }

    /// What the subscription asks the notifier to do.
    enum Effect: Hashable, Sendable {
        case notify(SIPSubscriptionState, SIPEventBody?)
        case schedule(SIPNotifierTimer, after: Duration)
        case cancel(SIPNotifierTimer)
        case remove(SIPSubscriptionTerminationReason)
    }

    public private(set) var key: SIPSubscriptionKey
    /// The watched resource (``SIPEventResource/key(for:)`` of the SUBSCRIBE's To URI).
    public private(set) var resource: String
    /// The subscriber's From URI, for authorization decisions and logs.
    public var subscriber: String { subscriberText.string }
    /// ``subscriber`` in the arena, shared with the dialog's remote URI.
    private var subscriberText: SIPArenaText
    public private(set) var status: Status
    /// When the subscription ends unless refreshed.
    public private(set) var expiresAt: SIPEventInstant
    /// When the last NOTIFY was sent (for rate limiting).
    public private(set) var lastNotifyAt: SIPEventInstant?
    /// The state most recently sent (or, while pending, to send on activation).
    public private(set) var currentState: SIPEventBody?
    /// A newer state held back by the rate limit.
    public private(set) var heldState: SIPEventBody?
    /// Whether a throttle timer is running.
    public private(set) var isThrottling: Bool
    /// The CSeq of the NOTIFY awaiting its response, to match failures (RFC 6665 §4.2.2).
    public internal(set) var outstandingNotifyCSeq: UInt32?
    /// The package's minimum interval between NOTIFYs.
    public let minimumNotifyInterval: Duration

    init(
        key: SIPSubscriptionKey, resource: String, subscriber: SIPArenaText, status: Status, expiresAt: SIPEventInstant,
        state: SIPEventBody?, minimumNotifyInterval: Duration
    ) {
        self.key = key
        self.resource = resource
        self.subscriberText = subscriber
        self.status = status
        self.expiresAt = expiresAt
        self.currentState = state
        self.heldState = nil
        self.isThrottling = false
        self.lastNotifyAt = nil
        self.minimumNotifyInterval = minimumNotifyInterval
    }

    /// Replaces the resource and subscriber texts by equal ones whose storage is shared, and moves
    /// the key into the text arena (the form a notifier keeps).
    mutating func shareStorage(resource: String, subscriber: SIPArenaText) {
        key = key.inArena
        guard resource == self.resource, subscriber == subscriberText else { return }
        self.resource = resource
        subscriberText = subscriber
    }

    private enum CodingKeys: String, CodingKey {
        case key, resource, subscriber, status, expiresAt, lastNotifyAt, currentState, heldState, isThrottling, outstandingNotifyCSeq
        case minimumNotifyInterval
    }

    /// The saved form names every field as it is read (``subscriber`` as text).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(resource, forKey: .resource)
        try container.encode(subscriber, forKey: .subscriber)
        try container.encode(status, forKey: .status)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encodeIfPresent(lastNotifyAt, forKey: .lastNotifyAt)
        try container.encodeIfPresent(currentState, forKey: .currentState)
        try container.encodeIfPresent(heldState, forKey: .heldState)
        try container.encode(isThrottling, forKey: .isThrottling)
        try container.encodeIfPresent(outstandingNotifyCSeq, forKey: .outstandingNotifyCSeq)
        try container.encode(minimumNotifyInterval, forKey: .minimumNotifyInterval)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(SIPSubscriptionKey.self, forKey: .key)
        resource = try container.decode(String.self, forKey: .resource)
        subscriberText = SIPArenaText(try container.decode(String.self, forKey: .subscriber))
        status = try container.decode(Status.self, forKey: .status)
        expiresAt = try container.decode(SIPEventInstant.self, forKey: .expiresAt)
        lastNotifyAt = try container.decodeIfPresent(SIPEventInstant.self, forKey: .lastNotifyAt)
        currentState = try container.decodeIfPresent(SIPEventBody.self, forKey: .currentState)
        heldState = try container.decodeIfPresent(SIPEventBody.self, forKey: .heldState)
        isThrottling = try container.decode(Bool.self, forKey: .isThrottling)
        outstandingNotifyCSeq = try container.decodeIfPresent(UInt32.self, forKey: .outstandingNotifyCSeq)
        minimumNotifyInterval = try container.decode(Duration.self, forKey: .minimumNotifyInterval)
    }

    /// Sets the state the first NOTIFY carries (before ``started(now:)``).
    mutating func setInitialState(_ state: SIPEventBody?) { currentState = state }

    /// Whether `self` differs from `earlier` at most in the bookkeeping of sending a NOTIFY on it — when the last
    /// one went (``lastNotifyAt``) and which CSeq awaits its answer (``outstandingNotifyCSeq``) — and not in anything
    /// a restarted notifier needs: status, expiry, the state sent or held, the rate limit.
    ///
    /// A NOTIFY of a body sent on the subscription alone (``SIPNotifier/notify(_:body:now:)``) changes only that.
    public func differsAtMostInNotifyBookkeeping(from earlier: SIPNotifierSubscription) -> Bool {
        var aligned = earlier
        aligned.lastNotifyAt = lastNotifyAt
        aligned.outstandingNotifyCSeq = outstandingNotifyCSeq
        return aligned == self
    }

    /// Seconds left, rounded up, for `expires=` (RFC 6665 §4.2.2).
    func remainingSeconds(at now: SIPEventInstant) -> Int { (expiresAt - now).wholeSecondsRoundedUp }

    private var substate: SIPSubscriptionState.Value { status == .pending ? .pending : .active }

    private mutating func notifyCurrent(now: SIPEventInstant) -> Effect {
        lastNotifyAt = now
        // A pending NOTIFY carries no state the subscriber is not yet allowed to see (§4.2.1.3).
        return .notify(SIPSubscriptionState(substate, expires: remainingSeconds(at: now)), status == .active ? currentState : nil)
    }

    /// The SUBSCRIBE was accepted: start the expiry timer and send the first NOTIFY
    /// (RFC 6665 §4.2.1.2).
    mutating func started(now: SIPEventInstant) -> [Effect] {
        [.schedule(.expiry(key), after: expiresAt - now), notifyCurrent(now: now)]
    }

    /// A refreshing SUBSCRIBE was accepted with `expires` seconds (0: unsubscribe). Answered by a
    /// NOTIFY with the current state (RFC 6665 §4.2.1.2, §4.2.1.4).
    mutating func refreshed(expires: Int, now: SIPEventInstant) -> [Effect] {
        guard status != .terminated else { return [] }
        if expires == 0 { return terminated(reason: .timeout, retryAfter: nil, now: now, includeState: true) }
        expiresAt = now + .seconds(expires)
        var effects: [Effect] = [.schedule(.expiry(key), after: .seconds(expires))]
        if isThrottling {
            isThrottling = false
            effects.append(.cancel(.throttle(key)))
        }
        if let held = heldState {
            currentState = held
            heldState = nil
        }
        effects.append(notifyCurrent(now: now))
        return effects
    }

    /// The resource's state changed: NOTIFY now, or hold it until the rate limit allows and then
    /// send only the latest (RFC 6665 §5.4.7).
    mutating func stateChanged(to state: SIPEventBody?, now: SIPEventInstant) -> [Effect] {
        switch status {
        case .terminated: return []
        case .pending:
            currentState = state
            return []
        case .active:
            if let last = lastNotifyAt, now - last < minimumNotifyInterval {
                heldState = state
                guard !isThrottling else { return [] }
                isThrottling = true
                return [.schedule(.throttle(key), after: last + minimumNotifyInterval - now)]
            }
            currentState = state
            return [notifyCurrent(now: now)]
        }
    }

    /// The throttle timer fired: send the held state, if any.
    mutating func throttleFired(now: SIPEventInstant) -> [Effect] {
        guard isThrottling, status == .active else { return [] }
        isThrottling = false
        guard let held = heldState else { return [] }
        currentState = held
        heldState = nil
        return [notifyCurrent(now: now)]
    }

    /// The owner sends `body` on this subscription alone (a stream of values rather than a resource
    /// state): NOTIFY `active` with the time left (RFC 6665 §4.2.2). The subscription's state — what a
    /// refresh or a later state change sends — is left as it was. Nothing is sent unless it is active.
    mutating func bodySent(_ body: SIPEventBody?, now: SIPEventInstant) -> [Effect] {
        guard status == .active else { return [] }
        lastNotifyAt = now
        return [.notify(SIPSubscriptionState(.active, expires: remainingSeconds(at: now)), body)]
    }

    /// The pending subscription was authorized (RFC 6665 §4.2.1.3): NOTIFY `active` with state.
    mutating func authorized(state: SIPEventBody?, now: SIPEventInstant) -> [Effect] {
        guard status == .pending else { return [] }
        status = .active
        if let state { currentState = state }
        return [notifyCurrent(now: now)]
    }

    /// The expiry timer fired: NOTIFY `terminated;reason=timeout` (RFC 6665 §4.2.2).
    mutating func expired(now: SIPEventInstant) -> [Effect] {
        terminated(reason: .timeout, retryAfter: nil, now: now, includeState: false)
    }

    /// Ends the subscription with a final NOTIFY `terminated;reason=…[;retry-after=…]`
    /// (RFC 6665 §4.2.2) and removes it.
    mutating func terminated(
        reason: SIPSubscriptionTerminationReason, retryAfter: Int?, now: SIPEventInstant, includeState: Bool
    ) -> [Effect] {
        guard status != .terminated else { return [] }
        let wasActive = status == .active
        status = .terminated
        lastNotifyAt = now
        var effects: [Effect] = [.cancel(.expiry(key))]
        if isThrottling {
            isThrottling = false
            effects.append(.cancel(.throttle(key)))
        }
        if let held = heldState {
            currentState = held
            heldState = nil
        }
        let body = includeState && wasActive ? currentState : nil
        effects.append(.notify(SIPSubscriptionState(.terminated, reason: reason, retryAfter: retryAfter), body))
        effects.append(.remove(reason))
        return effects
    }

    /// The subscription is dropped without a NOTIFY (its NOTIFY failed, RFC 6665 §4.2.2).
    mutating func dropped() -> [Effect] {
        guard status != .terminated else { return [] }
        status = .terminated
        var effects: [Effect] = [.cancel(.expiry(key))]
        if isThrottling {
            isThrottling = false
            effects.append(.cancel(.throttle(key)))
        }
        return effects
    }

    /// After a restart: re-arm the timers relative to `now`, or expire at once.
    mutating func restored(now: SIPEventInstant) -> [Effect] {
        outstandingNotifyCSeq = nil
        guard status != .terminated else { return [] }
        if expiresAt <= now { return expired(now: now) }
        var effects: [Effect] = [.schedule(.expiry(key), after: expiresAt - now)]
        if heldState != nil, status == .active {
            isThrottling = true
            let due = (lastNotifyAt ?? now) + minimumNotifyInterval
            effects.append(.schedule(.throttle(key), after: max(.zero, due - now)))
        } else {
            isThrottling = false
        }
        return effects
    }
}
