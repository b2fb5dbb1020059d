/// An iterative lookup in progress, driven by the node that started it.
struct Lookup: Sendable {
    enum Operation: Sendable {
        case lookup
        case get(ResourceID, ResourceRecord.Kind?)
        case put(ResourceRecord)
    }

    enum Purpose: Sendable {
        case finger(Int)
        /// Chord's self-lookup: who owns the key just after this node, asked through another peer?
        case selfCheck
        case join
        case request(OverlayRequestID, Operation)
    }

    var key: NodeID
    var purpose: Purpose
    /// Peers not yet asked, best (closest preceding the key) last.
    var candidates: [OverlayPeer] = []
    /// Peers asked, unresponsive, or caught answering wrongly.
    var excluded: [NodeID] = []
    var hops = 0
    var attempt = 0
    /// The distance to the key of the closest peer asked in this attempt.
    var closestAsked: NodeID?
    /// Hops of this attempt that did not get closer to the key than an earlier one (a fallback
    /// after a timeout or a useless answer); the hop limit applies to these only.
    var stalledHops = 0

    init(key: NodeID, purpose: Purpose) {
        self.key = key
        self.purpose = purpose
    }

    var isMaintenance: Bool {
        if case .request = purpose { return false }
        return true
    }

    mutating func addCandidates(_ peers: [OverlayPeer]) {
        for peer in peers where !excluded.contains(peer.id) && !candidates.contains(where: { $0.id == peer.id }) {
            candidates.append(peer)
        }
        let key = key
        candidates.sort { $0.id.distance(to: key) > $1.id.distance(to: key) }
    }
}

/// What an outstanding request was for.
enum Pending: Sendable {
    case stabilize(OverlayPeer)
    case ping(OverlayPeer)
    case find(Lookup, asked: OverlayPeer?, address: OverlayAddress)
    case operation(Lookup, targets: [OverlayPeer], index: Int, answeredBy: NodeID?)
    case join(Lookup, admitting: OverlayPeer)

    var address: OverlayAddress {
        switch self {
        case .stabilize(let peer), .ping(let peer), .join(_, let peer): return peer.address
        case .find(_, _, let address): return address
        case .operation(_, let targets, let index, _): return targets[min(index, targets.count - 1)].address
        }
    }
}

extension ChordNode {
    mutating func startRequest(
        _ requestID: OverlayRequestID,
        key: NodeID,
        operation: Lookup.Operation,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard phase == .joined else {
            let error = OverlayError(.notJoined, "node \(me.id.shortDescription) is \(phase), not part of a ring")
            actions.append(.complete(OverlayCompletion(requestID: requestID, result: .failure(error), hops: 0)))
            return
        }
        startLookup(Lookup(key: key, purpose: .request(requestID, operation)), now: now, &actions)
    }

    /// Starts (or restarts) a lookup from this node's own routing table.
    mutating func startLookup(_ lookup: Lookup, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        var lookup = lookup
        lookup.candidates = []
        lookup.excluded = []
        lookup.closestAsked = nil
        lookup.stalledHops = 0
        if case .join = lookup.purpose {
            guard let bootstrap else { return }
            lookup.hops += 1
            let maintenance = lookup.isMaintenance
            sendRequest(
                { .findRequest(id: $0, key: lookup.key, maintenance: maintenance) },
                to: bootstrap,
                pending: .find(lookup, asked: nil, address: bootstrap),
                &actions
            )
            return
        }
        if let owners = knownOwner(of: lookup.key) {
            reachedOwner(lookup, targets: owners, answeredBy: nil, now: now, &actions)
            return
        }
        lookup.addCandidates(closestPreceding(lookup.key, limit: configuration.redirectCandidates + 1))
        if lookup.candidates.isEmpty {
            // Every peer we knew timed out (e.g. a burst of delays on a loaded host emptied the
            // successor list and fingers): ask the peers dropped as unresponsive, which may be
            // back, instead of failing at once on every attempt.
            lookup.addCandidates(suspects.map(\.peer))
        }
        askNext(lookup, now: now, &actions)
    }

    /// Asks the best remaining candidate, or gives up on this attempt.
    ///
    /// The hop limit counts only hops that make no progress. In an intact ring every answer
    /// names a peer strictly closer to the key, and no peer is asked twice, so a lookup always
    /// ends at the owner, however many hops a small finger table needs (with 1–2 fingers the
    /// route walks successor lists). Counting all hops made such lookups fail on every retry
    /// alike, although the ring was intact.
    mutating func askNext(_ lookup: Lookup, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        var lookup = lookup
        guard let next = lookup.candidates.popLast() else {
            attemptFailed(lookup, code: .lookupFailed, now: now, &actions)
            return
        }
        let distance = next.id.distance(to: lookup.key)
        if let closest = lookup.closestAsked, distance >= closest {
            lookup.stalledHops += 1
            guard lookup.stalledHops <= configuration.maximumHops else {
                attemptFailed(lookup, code: .lookupFailed, now: now, &actions)
                return
            }
        } else {
            lookup.closestAsked = distance
        }
        lookup.excluded.append(next.id)
        lookup.hops += 1
        let key = lookup.key
        let maintenance = lookup.isMaintenance
        sendRequest(
            { .findRequest(id: $0, key: key, maintenance: maintenance) },
            to: next.address,
            pending: .find(lookup, asked: next, address: next.address),
            &actions
        )
    }

    /// An attempt ran out of peers: wait and retry from scratch, or report the failure.
    mutating func attemptFailed(_ lookup: Lookup, code: OverlayError.Code, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        var lookup = lookup
        switch lookup.purpose {
        case .finger, .selfCheck:
            return
        case .join, .request:
            // A joining node keeps trying: the ring it joins may still be settling.
            let isJoin: Bool
            if case .join = lookup.purpose { isJoin = true } else { isJoin = false }
            guard isJoin || lookup.attempt < configuration.retries else {
                if case .request(let requestID, _) = lookup.purpose {
                    let error = OverlayError(
                        code,
                        "no answer for key \(lookup.key.shortDescription) after \(lookup.attempt + 1) attempts and \(lookup.hops) hops"
                    )
                    actions.append(.complete(OverlayCompletion(requestID: requestID, result: .failure(error), hops: lookup.hops)))
                } else {
                    phase = .idle
                    actions.append(.phaseChanged(.idle))
                }
                return
            }
            lookup.attempt += 1
            let id = makeMessageID()
            waiting[id] = lookup
            actions.append(.scheduleTimer(.retry(id), after: configuration.retryDelay))
        }
    }

    mutating func handleFindRequest(id: UInt64, key: NodeID, maintenance: Bool, from sender: OverlayPeer, _ actions: inout [OverlayAction]) {
        guard phase == .joined else { return }
        let answer: OverlayFindAnswer
        if let owners = knownOwner(of: key) {
            answer = .owner(owners)
        } else {
            let closer = closestPreceding(key, limit: configuration.redirectCandidates)
            answer = closer.isEmpty ? .owner([me] + successors.prefix(configuration.replicaCount - 1)) : .closer(closer)
        }
        send(.findResponse(id: id, answer: answer, maintenance: maintenance), to: sender.address, &actions)
    }

    mutating func handleFindResponse(
        _ lookup: Lookup,
        asked: OverlayPeer?,
        answer: OverlayFindAnswer,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        var lookup = lookup
        switch answer {
        case .owner(let owners):
            // The owner must lie at or past the key, seen from the peer that named it.
            guard let owner = owners.first,
                asked.map({ lookup.key.isBetween($0.id, upperInclusive: owner.id) }) ?? true
            else {
                askNext(lookup, now: now, &actions)
                return
            }
            reachedOwner(lookup, targets: owners, answeredBy: asked?.id, now: now, &actions)
        case .closer(let peers):
            // A redirect must make progress: strictly between the peer asked and the key.
            let progress = peers.filter { peer in
                peer.id != me.id && (asked.map { peer.id.isBetween($0.id, lookup.key) } ?? true)
            }
            lookup.addCandidates(progress)
            askNext(lookup, now: now, &actions)
        }
    }

    /// The owner is known: finish a maintenance lookup, or carry the operation to the owner.
    mutating func reachedOwner(
        _ lookup: Lookup,
        targets: [OverlayPeer],
        answeredBy: NodeID?,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        switch lookup.purpose {
        case .finger(let index):
            if index < fingers.count, let owner = targets.first {
                fingers[index] = owner.id == me.id ? nil : owner
            }
        case .selfCheck:
            selfChecked(owner: targets.first, now: now, &actions)
        case .join:
            guard let admitting = targets.first, admitting.id != me.id else {
                attemptFailed(lookup, code: .lookupFailed, now: now, &actions)
                return
            }
            sendRequest({ .joinRequest(id: $0) }, to: admitting.address, pending: .join(lookup, admitting: admitting), &actions)
        case .request(let requestID, .lookup):
            guard let owner = targets.first else { return }
            actions.append(.complete(OverlayCompletion(requestID: requestID, result: .success(.owner(owner)), hops: lookup.hops)))
        case .request:
            performOperation(lookup, targets: targets, index: 0, answeredBy: answeredBy, now: now, &actions)
        }
    }

    /// Carries a get or put to `targets[index]` (the owner first, then its successors).
    mutating func performOperation(
        _ lookup: Lookup,
        targets: [OverlayPeer],
        index: Int,
        answeredBy: NodeID?,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard case .request(let requestID, let operation) = lookup.purpose else { return }
        var lookup = lookup
        guard index < targets.count else {
            // Every peer named as owner failed us: whoever named them answered wrongly or stale.
            if let answeredBy { lookup.excluded.append(answeredBy) }
            askNext(lookup, now: now, &actions)
            return
        }
        let target = targets[index]
        if target.id == me.id {
            switch operation {
            case .lookup:
                return
            case .get(let resource, let kind):
                let records = store.records(for: resource, kind: kind, now: now)
                if owns(resource.id) || !records.isEmpty {
                    actions.append(.complete(OverlayCompletion(requestID: requestID, result: .success(.records(records)), hops: lookup.hops)))
                    return
                }
            case .put(let record):
                if owns(record.resourceID.id) {
                    let status = storeAsOwner(record, now: now, &actions)
                    finishPut(requestID, status: status, hops: lookup.hops, &actions)
                    return
                }
            }
            performOperation(lookup, targets: targets, index: index + 1, answeredBy: answeredBy, now: now, &actions)
            return
        }
        lookup.hops += 1
        let entry = Pending.operation(lookup, targets: targets, index: index, answeredBy: answeredBy)
        switch operation {
        case .lookup:
            return
        case .get(let resource, let kind):
            sendRequest({ .fetch(id: $0, resource: resource, kind: kind) }, to: target.address, pending: entry, &actions)
        case .put(let record):
            sendRequest({ .store(id: $0, records: [record], isReplica: false) }, to: target.address, pending: entry, &actions)
        }
    }

    func finishPut(_ requestID: OverlayRequestID, status: OverlayStoreStatus, hops: Int, _ actions: inout [OverlayAction]) {
        let result: Result<OverlayResponse, OverlayError>
        switch status {
        case .stored: result = .success(.stored)
        case .refused(let code): result = .failure(OverlayError(code, "the owner refused the record"))
        case .notResponsible: result = .failure(OverlayError(.notResponsible, "the peer asked does not own the key"))
        }
        actions.append(.complete(OverlayCompletion(requestID: requestID, result: result, hops: hops)))
    }

    mutating func handleOperationAnswer(
        _ pendingEntry: Pending,
        message: OverlayMessage,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard case .operation(let lookup, let targets, let index, let answeredBy) = pendingEntry,
            case .request(let requestID, _) = lookup.purpose
        else { return }
        switch message {
        case .fetchResponse(_, let responsible, let records):
            if responsible || !records.isEmpty {
                let live = records.filter { !$0.isRemoval && $0.expiry > now }
                actions.append(.complete(OverlayCompletion(requestID: requestID, result: .success(.records(live)), hops: lookup.hops)))
            } else {
                performOperation(lookup, targets: targets, index: index + 1, answeredBy: answeredBy, now: now, &actions)
            }
        case .storeResponse(_, .notResponsible):
            performOperation(lookup, targets: targets, index: index + 1, answeredBy: answeredBy, now: now, &actions)
        case .storeResponse(_, let status):
            finishPut(requestID, status: status, hops: lookup.hops, &actions)
        default:
            return
        }
    }

    /// A request got no answer in time (or its peer is known unreachable).
    mutating func requestFailed(_ entry: Pending, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        switch entry {
        case .stabilize(let successor):
            forget(successor.id, now: now, &actions)
            stabilize(now: now, &actions)
        case .ping(let peer):
            if predecessor?.id == peer.id { predecessor = nil }
            forget(peer.id, now: now, &actions)
        case .find(let lookup, let asked, _):
            if let asked { forget(asked.id, now: now, &actions) }
            askNext(lookup, now: now, &actions)
        case .operation(let lookup, let targets, let index, let answeredBy):
            forget(targets[index].id, now: now, &actions)
            performOperation(lookup, targets: targets, index: index + 1, answeredBy: answeredBy, now: now, &actions)
        case .join(let lookup, _):
            attemptFailed(lookup, code: .timeout, now: now, &actions)
        }
    }
}
