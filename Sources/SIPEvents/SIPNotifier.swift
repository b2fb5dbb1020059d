public import SIPCore
public import SIPSyntax

/// What the notifier asks its owner to do, in order.
public enum SIPNotifierAction: Hashable, Sendable {
    /// Answer the SUBSCRIBE being processed.
    case sendResponse(SIPResponse)
    /// Send this NOTIFY (add a top Via with a fresh branch) through a client transaction; report
    /// its final response to ``SIPNotifier/notifyResponseReceived(_:now:)`` and a timeout or
    /// transport error to ``SIPNotifier/notifyFailed(_:now:)``.
    case sendNotify(SIPRequest, SIPSubscriptionKey)
    /// Start (or restart) `timer`; call ``SIPNotifier/timerFired(_:now:)`` when it fires.
    case scheduleTimer(SIPNotifierTimer, after: Duration)
    /// Stop `timer`; a firing that arrives anyway is ignored.
    case cancelTimer(SIPNotifierTimer)
    /// A subscription was created (pending ones wait for ``SIPNotifier/authorize(_:decision:now:)``).
    case subscriptionCreated(SIPSubscriptionKey, SIPNotifierSubscription.Status)
    /// A subscription is gone; persist its removal.
    case subscriptionRemoved(SIPSubscriptionKey, SIPNotifierRemoval)
}

/// Why the notifier forgot a subscription.
public enum SIPNotifierRemoval: Hashable, Sendable {
    /// A final NOTIFY `terminated` with this reason was sent (expiry, unsubscribe, fetch,
    /// rejection or a notifier decision).
    case terminated(SIPSubscriptionTerminationReason)
    /// A NOTIFY failed: the final status, or `nil` for a timeout or transport error
    /// (RFC 6665 §4.2.2).
    case notifyFailed(statusCode: Int?)
}

/// The notifier of RFC 6665: routes SUBSCRIBEs to event packages, keeps every subscription by
/// dialog and `Event`, builds NOTIFYs on the shared dialogs (so NOTIFY CSeq grows per dialog),
/// and removes subscriptions that expire, end or whose NOTIFY fails.
///
/// Pure: no I/O, no clock. Every event takes `now` and returns ``SIPNotifierAction``s. Save
/// ``snapshot`` after events that change state; ``restore(_:now:)`` continues from it.
public struct SIPNotifier: Sendable {
    /// A resource's latest reported state, kept for initial NOTIFYs.
    public struct ResourceState: Hashable, Sendable, Codable {
        public var event: String
        public var resource: String
        public var state: SIPEventBody
    }

    /// Everything that must survive a restart (RFC 6665 §4.2: dialog state and NOTIFY CSeq).
    public struct Snapshot: Hashable, Sendable, Codable {
        public var dialogs: [SIPDialog]
        public var subscriptions: [SIPNotifierSubscription]
        public var resourceStates: [ResourceState]
    }

    /// Our Contact, put into 2xx responses and NOTIFYs (RFC 6665 §4.2.1.1, §4.2.2).
    public var localContact: SIPURI
    /// The status for a SUBSCRIBE whose authorization is pending: 202 as in RFC 3265; RFC 6665
    /// §8.3.1 deprecates 202 and subscribers treat it as 200, so 200 also works.
    public var pendingStatusCode: Int = 202

    /// What the events since ``beginChanges()`` touched: each entry's value before its first
    /// change (`nil`: it did not exist), so an owner can write only those entries to its store
    /// and undo them on a failed write without copying every subscription.
    public struct Changes: Sendable {
        /// Subscriptions added, changed or removed, with their earlier value.
        public fileprivate(set) var subscriptions: [SIPSubscriptionKey: SIPNotifierSubscription?] = [:]
        /// Dialogs added, changed or removed, with their earlier value.
        public fileprivate(set) var dialogs: [SIPDialogID: SIPDialog?] = [:]
        fileprivate var resourceStates: [String: ResourceState?] = [:]
        fileprivate var isRecording = false

        /// Nothing was touched.
        public var isEmpty: Bool { subscriptions.isEmpty && dialogs.isEmpty && resourceStates.isEmpty }
    }

    private var packages: [String: any SIPEventPackage] = [:]
    public private(set) var subscriptions: [SIPSubscriptionKey: SIPNotifierSubscription] = [:]
    private var resourceStates: [String: ResourceState] = [:]
    /// Every dialog in its compact form with the subscriptions it carries, so per-dialog lookups
    /// need not scan the subscriptions.
    private var dialogTable: [SIPNotifierDialogKey: SIPNotifierDialogEntry] = [:]
    /// The subscriptions of each resource (by ``stateKey(_:_:)``), so a state change visits only
    /// its watchers.
    private var watchersByResource: [String: Set<SIPSubscriptionKey>] = [:]
    /// Shares the texts that subscriptions repeat (our URI and Contact, the resource).
    private var interner = SIPStringInterner()
    /// What changed since ``beginChanges()``; empty and not recording until that is called.
    public private(set) var changes = Changes()

    public init(packages: [any SIPEventPackage], localContact: SIPURI) {
        self.localContact = localContact
        for package in packages { self.packages[package.name] = package }
    }

    /// How many subscriptions are alive.
    public var count: Int { subscriptions.count }

    /// How many dialogs are alive.
    public var dialogCount: Int { dialogTable.count { $0.value.dialog != nil } }

    /// Every dialog, by ID. Builds each ``SIPDialog`` from its compact form: for inspection and
    /// snapshots; use ``dialog(_:)`` for one.
    public var dialogs: [SIPDialogID: SIPDialog] {
        var all: [SIPDialogID: SIPDialog] = [:]
        for (key, entry) in dialogTable {
            let id = key.dialogID
            if let dialog = entry.dialog?.dialog(id: id) { all[id] = dialog }
        }
        return all
    }

    /// Whether the notifier has dialog `id`.
    public func hasDialog(_ id: SIPDialogID) -> Bool {
        dialogTable[SIPNotifierDialogKey(id)]?.dialog != nil
    }

    /// The local CSeq of dialog `id`: the last NOTIFY's (RFC 3261 §12.2.1.1).
    public func notifySequence(inDialog id: SIPDialogID) -> UInt32? {
        dialogTable[SIPNotifierDialogKey(id)]?.dialog?.localSequence
    }

    /// The dialog `id`, if the notifier has it.
    public func dialog(_ id: SIPDialogID) -> SIPDialog? {
        dialogTable[SIPNotifierDialogKey(id)]?.dialog?.dialog(id: id)
    }

    /// The supported packages, for `Allow-Events` (RFC 6665 §8.2.2).
    public var allowedEvents: [String] { packages.keys.sorted() }

    /// Adds or replaces a package.
    public mutating func register(_ package: any SIPEventPackage) { packages[package.name] = package }

    // MARK: - SUBSCRIBE

    /// A SUBSCRIBE arrived (through a server transaction). Answers it and, when it is accepted,
    /// creates or refreshes the subscription and sends the NOTIFY that must follow at once
    /// (RFC 6665 §4.2.1).
    ///
    /// - 400: no or malformed Event, malformed Expires, missing tags or Contact.
    /// - 489 with `Allow-Events`: unknown package (§4.2.1.1). 423 with `Min-Expires`: too brief.
    /// - 481: in-dialog SUBSCRIBE for an unknown dialog; 500: CSeq lower than the last (RFC 3261 §12.2.2).
    /// - `Expires: 0` on a new subscription is a fetch: 200, one NOTIFY `terminated;reason=timeout`
    ///   with the state, nothing kept (§4.4.3). On an existing one it unsubscribes (§4.2.1.4).
    public mutating func subscribeReceived(
        _ request: SIPRequest, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPNotifierAction] {
        guard let event = request.headers.event else {
            return [.sendResponse(reject(400, request, reason: "Missing or Malformed Event Header"))]
        }
        guard let package = packages[event.package] else {
            var response = reject(489, request)
            response.headers.allowEvents = allowedEvents
            return [.sendResponse(response)]
        }
        guard !request.headers.hasMalformedExpires else {
            return [.sendResponse(reject(400, request, reason: "Malformed Expires"))]
        }
        let expires: Int
        switch package.expiresPolicy.decide(requested: request.headers.expires) {
        case .tooBrief(let minimum):
            var response = reject(423, request)
            response.headers.minExpires = minimum
            return [.sendResponse(response)]
        case .grant(let seconds):
            expires = seconds
        }

        if let dialogID = SIPDialogID.ofReceivedRequest(request) {
            guard var dialog = dialog(dialogID) else {
                return [.sendResponse(reject(481, request))]
            }
            do {
                try dialog.validateRequest(request)
            } catch {
                return [.sendResponse(reject(error.statusCode, request))]
            }
            dialog.refreshRemoteTarget(from: request.headers)
            setDialog(dialog, for: dialogID)
            let key = SIPSubscriptionKey(dialogID: dialogID, event: event)
            if var subscription = subscriptions[key] {
                var actions: [SIPNotifierAction] = [.sendResponse(accept(200, request, expires: expires, toTag: nil))]
                let effects = subscription.refreshed(expires: expires, now: now)
                setSubscription(subscription, for: key)
                actions += apply(effects, to: key, now: now)
                return actions
            }
            // A new subscription in an existing dialog (a different Event id, §4.1.2.1).
            let authorization = package.authorize(request)
            if case .reject(let statusCode) = authorization { return [.sendResponse(reject(statusCode, request))] }
            return create(key: key, request: request, package: package, pending: authorization == .pending, expires: expires, toTag: nil, now: now)
        }

        let authorization = package.authorize(request)
        if case .reject(let statusCode) = authorization {
            return [.sendResponse(reject(statusCode, request, toTag: SIPEventMessages.token(using: &generator)))]
        }
        let localTag = SIPEventMessages.token(using: &generator)
        let dialog: SIPDialog
        do {
            dialog = try SIPDialog(uasRequest: request, localTag: localTag, localContact: localContact)
        } catch {
            return [.sendResponse(reject(error.statusCode, request, reason: error.detail))]
        }
        setDialog(dialog, for: dialog.id)
        let key = SIPSubscriptionKey(dialogID: dialog.id, event: event)
        return create(key: key, request: request, package: package, pending: authorization == .pending, expires: expires, toTag: localTag, now: now)
    }

    private mutating func create(
        key: SIPSubscriptionKey, request: SIPRequest, package: any SIPEventPackage, pending: Bool, expires: Int,
        toTag: String?, now: SIPEventInstant
    ) -> [SIPNotifierAction] {
        // Kept for the subscription's life: its bytes go to the text arena.
        let key = key.inArena
        let resource = interner.intern(package.resourceKey(for: request.headers.to?.uri ?? request.uri))
        // The subscriber is the dialog's remote URI: share that text when it is the same.
        let from = request.headers.from?.uri.description ?? ""
        var subscription = SIPNotifierSubscription(
            key: key, resource: resource, subscriber: sharedSubscriberText(from, key: key),
            status: pending ? .pending : .active, expiresAt: now + .seconds(expires), state: nil,
            minimumNotifyInterval: package.minimumNotifyInterval
        )
        subscription.setInitialState(resourceStates[Self.stateKey(key.event.package, resource)]?.state ?? package.initialState(for: subscription))
        var actions: [SIPNotifierAction] = [.sendResponse(accept(pending ? pendingStatusCode : 200, request, expires: expires, toTag: toTag))]
        setSubscription(subscription, for: key)
        if expires == 0 {
            // Fetch (RFC 6665 §4.4.3): one NOTIFY with the state, then nothing is kept.
            actions += update(key, now: now) { subscription in
                subscription.terminated(reason: .timeout, retryAfter: nil, now: now, includeState: true).filter {
                    if case .cancel = $0 { false } else { true }
                }
            }
            return actions
        }
        actions.append(.subscriptionCreated(key, subscription.status))
        actions += update(key, now: now) { $0.started(now: now) }
        return actions
    }

    // MARK: - NOTIFY outcome

    /// The final response to a NOTIFY we sent (RFC 6665 §4.2.2): 2xx keeps the subscription;
    /// 401/407 or a response with Retry-After keep it too; any other failure removes it. A 481
    /// removes every subscription of that dialog.
    public mutating func notifyResponseReceived(_ response: SIPResponse, now: SIPEventInstant) -> [SIPNotifierAction] {
        guard response.isFinal, let dialogID = SIPDialogID.ofReceivedResponse(response), let cseq = response.headers.cseq,
            cseq.method == .notify
        else { return [] }
        let dialogKeys = subscriptionKeys(inDialog: dialogID)
        let key = dialogKeys.first { subscriptions[$0]?.outstandingNotifyCSeq == cseq.sequence }
        if let key, var subscription = subscriptions[key] {
            subscription.outstandingNotifyCSeq = nil
            setSubscription(subscription, for: key)
        }
        let status = response.statusCode
        if status < 300 || status == 401 || status == 407 || response.headers.contains("Retry-After") { return [] }
        if status == 481 {
            let keys = dialogKeys.sorted { $0.description < $1.description }
            return keys.flatMap { drop($0, cause: .notifyFailed(statusCode: status)) }
        }
        guard let key else { return [] }
        return drop(key, cause: .notifyFailed(statusCode: status))
    }

    /// A NOTIFY we sent timed out or could not be sent (RFC 6665 §4.2.2): its subscription is removed.
    public mutating func notifyFailed(_ notify: SIPRequest, now: SIPEventInstant) -> [SIPNotifierAction] {
        guard let callID = notify.headers.callID, let local = notify.headers.from?.tag, let remote = notify.headers.to?.tag,
            let event = notify.headers.event
        else { return [] }
        let key = SIPSubscriptionKey(dialogID: SIPDialogID(callID: callID, localTag: local, remoteTag: remote), event: event)
        return drop(key, cause: .notifyFailed(statusCode: nil))
    }

    // MARK: - Timers and application events

    /// A timer the notifier scheduled fired.
    public mutating func timerFired(_ timer: SIPNotifierTimer, now: SIPEventInstant) -> [SIPNotifierAction] {
        switch timer {
        case .expiry(let key):
            return update(key, now: now) { $0.expired(now: now) }
        case .throttle(let key):
            return update(key, now: now) { $0.throttleFired(now: now) }
        }
    }

    /// The state of `resource` in package `event` changed (from the application or from the
    /// ``SIPEventStateCompositor``): every active subscription to it is notified, subject to the
    /// package's rate limit (RFC 6665 §4.2.2, §5.4.7). `nil` means the resource has no state.
    public mutating func resourceStateChanged(
        event: String, resource: String, state: SIPEventBody?, now: SIPEventInstant
    ) -> [SIPNotifierAction] {
        let stateKey = Self.stateKey(event, resource)
        if changes.isRecording, changes.resourceStates.index(forKey: stateKey) == nil {
            changes.resourceStates[stateKey] = .some(resourceStates[stateKey])
        }
        if let state {
            resourceStates[stateKey] = ResourceState(event: event, resource: resource, state: state)
        } else {
            resourceStates[stateKey] = nil
        }
        let keys = watchersByResource[stateKey] ?? []
        return keys.sorted { $0.description < $1.description }.flatMap { key in
            update(key, now: now) { $0.stateChanged(to: state, now: now) }
        }
    }

    /// Sends `body` on the one subscription `key` (RFC 6665 §4.2.2): a NOTIFY `active` in its dialog,
    /// after the dialog's earlier NOTIFYs (the next local CSeq). The resource's state is not changed, so
    /// other subscriptions to it get nothing and a refresh still sends the resource's state. For owners
    /// that stream values per subscription (a service wire) rather than keep one state per resource.
    /// Returns no action when the subscription does not exist or is not active.
    public mutating func notify(_ key: SIPSubscriptionKey, body: SIPEventBody?, now: SIPEventInstant) -> [SIPNotifierAction] {
        update(key, now: now) { $0.bodySent(body, now: now) }
    }

    /// Decides a pending subscription (RFC 6665 §4.2.1.3): `accept` sends NOTIFY `active` with the
    /// state, `reject` ends it with `terminated;reason=rejected`, `pending` changes nothing.
    public mutating func authorize(
        _ key: SIPSubscriptionKey, decision: SIPSubscriptionAuthorization, now: SIPEventInstant
    ) -> [SIPNotifierAction] {
        guard let subscription = subscriptions[key] else { return [] }
        switch decision {
        case .pending:
            return []
        case .reject:
            return update(key, now: now) { $0.terminated(reason: .rejected, retryAfter: nil, now: now, includeState: false) }
        case .accept:
            let state = resourceStates[Self.stateKey(key.event.package, subscription.resource)]?.state
                ?? subscription.currentState
                ?? packages[key.event.package]?.initialState(for: subscription)
            return update(key, now: now) { $0.authorized(state: state, now: now) }
        }
    }

    /// Ends a subscription from the notifier's side with `reason` (deactivated, probation with
    /// `retryAfter`, rejected, noresource, giveup, …) (RFC 6665 §4.2.2, §4.1.3).
    public mutating func terminate(
        _ key: SIPSubscriptionKey, reason: SIPSubscriptionTerminationReason, retryAfter: Int? = nil, now: SIPEventInstant
    ) -> [SIPNotifierAction] {
        update(key, now: now) { $0.terminated(reason: reason, retryAfter: retryAfter, now: now, includeState: false) }
    }

    // MARK: - Persistence

    /// The state to save.
    public var snapshot: Snapshot {
        Snapshot(
            dialogs: dialogs.values.sorted { $0.id.description < $1.id.description },
            subscriptions: subscriptions.values.sorted { $0.key.description < $1.key.description },
            resourceStates: resourceStates.values.sorted { ($0.event, $0.resource) < ($1.event, $1.resource) }
        )
    }

    /// Replaces the state with a saved one and re-arms its timers relative to `now`;
    /// subscriptions that expired meanwhile are ended. NOTIFY CSeq continues from the saved
    /// dialogs, so it never goes back.
    public mutating func restore(_ snapshot: Snapshot, now: SIPEventInstant) -> [SIPNotifierAction] {
        changes = Changes()
        let dialogs = Dictionary(snapshot.dialogs.map { ($0.id, $0) }, uniquingKeysWith: { a, b in
            (a.localSequence ?? 0) >= (b.localSequence ?? 0) ? a : b
        })
        dialogTable = [:]
        watchersByResource = [:]
        for (id, dialog) in dialogs { setDialog(dialog, for: id) }
        subscriptions = [:]
        for subscription in snapshot.subscriptions where subscriptions[subscription.key] == nil {
            // A subscription without its dialog cannot send NOTIFYs; drop it.
            guard dialogTable[subscription.key.dialogKey]?.dialog != nil else { continue }
            var shared = subscription
            shared.shareStorage(resource: interner.intern(subscription.resource), subscriber: sharedSubscriberText(subscription.subscriber, key: subscription.key))
            setSubscription(shared, for: shared.key)
        }
        resourceStates = Dictionary(snapshot.resourceStates.map { (Self.stateKey($0.event, $0.resource), $0) }, uniquingKeysWith: { _, b in b })
        let keys = subscriptions.keys.sorted { $0.description < $1.description }
        return keys.flatMap { key in update(key, now: now) { $0.restored(now: now) } }
    }

    // MARK: - Internals

    private static func stateKey(_ event: String, _ resource: String) -> String { "\(event) \(resource)" }

    private mutating func update(
        _ key: SIPSubscriptionKey, now: SIPEventInstant, _ body: (inout SIPNotifierSubscription) -> [SIPNotifierSubscription.Effect]
    ) -> [SIPNotifierAction] {
        guard var subscription = subscriptions[key] else { return [] }
        let effects = body(&subscription)
        setSubscription(subscription, for: key)
        return apply(effects, to: key, now: now)
    }

    private mutating func drop(_ key: SIPSubscriptionKey, cause: SIPNotifierRemoval) -> [SIPNotifierAction] {
        guard var subscription = subscriptions[key] else { return [] }
        var actions = subscription.dropped().compactMap { effect -> SIPNotifierAction? in
            if case .cancel(let timer) = effect { return .cancelTimer(timer) }
            return nil
        }
        remove(key)
        actions.append(.subscriptionRemoved(key, cause))
        return actions
    }

    private mutating func remove(_ key: SIPSubscriptionKey) {
        setSubscription(nil, for: key)
        if dialogTable[key.dialogKey]?.keys == nil { setDialog(nil, for: key.dialogID) }
    }

    // MARK: - Change tracking

    /// Starts recording what the following events touch (see ``changes``), forgetting the last record.
    public mutating func beginChanges() {
        changes = Changes(isRecording: true)
    }

    /// Stops recording and forgets the record (its changes were saved).
    public mutating func endChanges() {
        changes = Changes()
    }

    /// Puts back every subscription, dialog and resource state touched since ``beginChanges()``
    /// (an owner whose store write failed) and stops recording.
    public mutating func rollBackChanges() {
        let record = changes
        changes = Changes()
        for (key, before) in record.subscriptions { setSubscription(before, for: key) }
        for (id, before) in record.dialogs { setDialog(before, for: id) }
        for (key, before) in record.resourceStates { resourceStates[key] = before }
    }

    /// The subscriptions carried by dialog `id`.
    public func subscriptionKeys(inDialog id: SIPDialogID) -> [SIPSubscriptionKey] {
        dialogTable[SIPNotifierDialogKey(id)]?.keys?.all ?? []
    }

    private mutating func setSubscription(_ subscription: SIPNotifierSubscription?, for key: SIPSubscriptionKey) {
        if changes.isRecording, changes.subscriptions.index(forKey: key) == nil {
            changes.subscriptions[key] = .some(subscriptions[key])
        }
        let previous: SIPNotifierSubscription?
        if let subscription {
            previous = subscriptions.updateValue(subscription, forKey: key)
        } else {
            previous = subscriptions.removeValue(forKey: key)
        }
        if subscription == nil, let previous {
            unindex(key)
            let resource = Self.stateKey(key.package, previous.resource)
            watchersByResource[resource]?.remove(key)
            if watchersByResource[resource]?.isEmpty == true { watchersByResource[resource] = nil }
        } else if let subscription, previous == nil {
            index(key)
            watchersByResource[Self.stateKey(key.package, subscription.resource), default: []].insert(key)
        }
    }

    private mutating func setDialog(_ dialog: SIPDialog?, for id: SIPDialogID) {
        recordDialogChange(id)
        let key = SIPNotifierDialogKey(id)
        let previous = dialogTable[key]?.dialog
        let compact = dialog.map { SIPNotifierDialog($0, previous: previous, interner: &interner) }
        updateDialogEntry(key) { $0.dialog = compact }
    }

    /// `text` in the arena: the remote URI text of the key's dialog when equal (sharing it).
    private func sharedSubscriberText(_ text: String, key: SIPSubscriptionKey) -> SIPArenaText {
        guard let remote = dialogTable[key.dialogKey]?.dialog?.remoteURI, remote.string == text else { return SIPArenaText(text) }
        return remote
    }

    /// Remembers dialog `id`'s value before its first change since ``beginChanges()``.
    private mutating func recordDialogChange(_ id: SIPDialogID) {
        if changes.isRecording, changes.dialogs.index(forKey: id) == nil {
            changes.dialogs[id] = .some(dialog(id))
        }
    }

    /// Changes one entry of the dialog table, dropping it once it holds nothing. The table keeps
    /// the key it has unless `rekey`, which stores `key` instead (a subscription's key, whose
    /// buffer the subscription table already holds).
    private mutating func updateDialogEntry(
        _ key: SIPNotifierDialogKey, rekey: Bool = false, _ change: (inout SIPNotifierDialogEntry) -> Void
    ) {
        guard let index = dialogTable.index(forKey: key) else {
            var entry = SIPNotifierDialogEntry()
            change(&entry)
            if !entry.isEmpty { dialogTable[key] = entry }
            return
        }
        var entry = dialogTable.values[index]
        change(&entry)
        if entry.isEmpty {
            dialogTable.remove(at: index)
        } else if rekey {
            dialogTable.remove(at: index)
            dialogTable[key] = entry
        } else {
            dialogTable.values[index] = entry
        }
    }

    private mutating func index(_ key: SIPSubscriptionKey) {
        let isFirst = dialogTable[key.dialogKey]?.keys == nil
        updateDialogEntry(key.dialogKey, rekey: isFirst) { $0.add(key) }
    }

    private mutating func unindex(_ key: SIPSubscriptionKey) {
        updateDialogEntry(key.dialogKey) { $0.remove(key) }
    }

    private mutating func apply(_ effects: [SIPNotifierSubscription.Effect], to key: SIPSubscriptionKey, now: SIPEventInstant) -> [SIPNotifierAction] {
        var actions: [SIPNotifierAction] = []
        for effect in effects {
            switch effect {
            case .notify(let state, let body):
                let dialogKey = key.dialogKey
                guard var dialog = dialogTable[dialogKey]?.dialog?.dialog(id: key.dialogID) else { continue }
                var notify = dialog.makeRequest(method: .notify)
                // Only the local CSeq changed: update it in place.
                recordDialogChange(key.dialogID)
                let sequence = dialog.localSequence
                updateDialogEntry(dialogKey) { $0.dialog?.localSequence = sequence }
                notify.headers.event = key.event
                notify.headers.subscriptionState = state
                notify.eventBody = body
                if let sequence = dialog.localSequence, var subscription = subscriptions[key] {
                    subscription.outstandingNotifyCSeq = sequence
                    setSubscription(subscription, for: key)
                }
                actions.append(.sendNotify(notify, key))
            case .schedule(let timer, let delay):
                actions.append(.scheduleTimer(timer, after: delay))
            case .cancel(let timer):
                actions.append(.cancelTimer(timer))
            case .remove(let reason):
                remove(key)
                actions.append(.subscriptionRemoved(key, .terminated(reason)))
            }
        }
        return actions
    }

    private func accept(_ statusCode: Int, _ request: SIPRequest, expires: Int, toTag: String?) -> SIPResponse {
        var response = SIPEventMessages.response(statusCode, to: request, toTag: toTag)
        response.headers.expires = expires
        response.headers.add(name: "Contact", value: SIPNameAddress(uri: localContact).description)
        return response
    }

    private func reject(_ statusCode: Int, _ request: SIPRequest, reason: String? = nil, toTag: String? = nil) -> SIPResponse {
        var response = SIPEventMessages.response(statusCode, to: request, toTag: toTag)
        if let reason { response.reasonPhrase = reason }
        return response
    }
}
