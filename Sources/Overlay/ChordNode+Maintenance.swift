extension ChordNode {
    mutating func receive(_ envelope: OverlayEnvelope, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        let sender = envelope.sender
        guard sender.id != me.id || sender.address == me.address else { return }
        if !suspects.isEmpty { suspects.removeAll { $0.peer.id == sender.id } }
        switch envelope.message {
        case .findRequest(let id, let key, let maintenance):
            handleFindRequest(id: id, key: key, maintenance: maintenance, from: sender, &actions)
        case .findResponse(let id, let answer, _):
            guard case .find(let lookup, let asked, _)? = pending.removeValue(forKey: id) else { return }
            handleFindResponse(lookup, asked: asked, answer: answer, now: now, &actions)
        case .stabilizeRequest(let id):
            guard phase == .joined else { return }
            send(.stabilizeResponse(id: id, predecessor: predecessor, successors: successors), to: sender.address, &actions)
        case .stabilizeResponse(let id, let theirPredecessor, let theirSuccessors):
            guard case .stabilize(let successor)? = pending.removeValue(forKey: id) else { return }
            stabilized(successor: successor, theirPredecessor: theirPredecessor, theirSuccessors: theirSuccessors, now: now, &actions)
        case .notify:
            notified(by: sender, now: now, &actions)
        case .ping(let id):
            guard phase == .joined else { return }
            send(.pong(id: id), to: sender.address, &actions)
        case .pong(let id):
            pending.removeValue(forKey: id)
        case .joinRequest(let id):
            admit(sender, requestID: id, now: now, &actions)
        case .joinResponse(let id, let theirPredecessor, let theirSuccessors, let theirFingers, let records):
            guard case .join(let lookup, let admitting)? = pending.removeValue(forKey: id) else { return }
            guard !theirSuccessors.isEmpty else {
                // Refused: ask the closer peer it named, or start over.
                if let hint = theirPredecessor, hint.id != me.id, hint.id.isBetween(me.id, admitting.id) {
                    sendRequest({ .joinRequest(id: $0) }, to: hint.address, pending: .join(lookup, admitting: hint), &actions)
                } else {
                    attemptFailed(lookup, code: .notResponsible, now: now, &actions)
                }
                return
            }
            joined(predecessor: theirPredecessor, successors: theirSuccessors, fingers: theirFingers, records: records, now: now, &actions)
        case .store(let id, let records, let isReplica):
            handleStore(id: id, records: records, isReplica: isReplica, from: sender, now: now, &actions)
        case .fetch(let id, let resource, let kind):
            guard phase == .joined else { return }
            let records = store.records(for: resource, kind: kind, now: now)
            send(.fetchResponse(id: id, responsible: owns(resource.id), records: records), to: sender.address, &actions)
        case .fetchResponse(let id, _, _), .storeResponse(let id, _):
            guard let entry = pending.removeValue(forKey: id) else { return }
            handleOperationAnswer(entry, message: envelope.message, now: now, &actions)
        case .leaving(let theirPredecessor, let theirSuccessors, let records):
            departed(sender, predecessor: theirPredecessor, successors: theirSuccessors, records: records, now: now, &actions)
        }
    }

    mutating func timerFired(_ timer: OverlayTimer, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        switch timer {
        case .requestTimeout(let id):
            guard let entry = pending.removeValue(forKey: id) else { return }
            requestFailed(entry, now: now, &actions)
        case .retry(let id):
            guard let lookup = waiting.removeValue(forKey: id) else { return }
            if case .join = lookup.purpose {
                guard phase == .joining else { return }
            } else {
                guard phase == .joined else { return }
            }
            startLookup(lookup, now: now, &actions)
        case .stabilize:
            guard phase == .joined else { return }
            actions.append(.scheduleTimer(.stabilize, after: jittered(configuration.stabilizeInterval)))
            stabilize(now: now, &actions)
        case .fixFingers:
            guard phase == .joined else { return }
            actions.append(.scheduleTimer(.fixFingers, after: jittered(configuration.fixFingersInterval)))
            guard !successors.isEmpty, configuration.fingerCount > 0 else { return }
            let index = nextFinger
            nextFinger = (nextFinger + 1) % configuration.fingerCount
            startLookup(Lookup(key: fingerStart(index), purpose: .finger(index)), now: now, &actions)
        case .checkPredecessor:
            guard phase == .joined else { return }
            actions.append(.scheduleTimer(.checkPredecessor, after: jittered(configuration.checkPredecessorInterval)))
            if store.purgeExpired(now: now) > 0 { actions.append(.storeChanged) }
            // Anti-entropy: now and then, re-push owned records to the replica set, covering
            // pushes lost to failures or loss.
            refreshTicks += 1
            if configuration.replicaRefreshTicks > 0, refreshTicks % configuration.replicaRefreshTicks == 0 {
                replicate(ownedRecords, to: Array(successors.prefix(configuration.replicaCount - 1)), &actions)
            }
            if let predecessor {
                sendRequest({ .ping(id: $0) }, to: predecessor.address, pending: .ping(predecessor), &actions)
            }
            selfCheckTicks += 1
            if configuration.selfCheckTicks > 0, selfCheckTicks % configuration.selfCheckTicks == 0 {
                selfCheck(now: now, &actions)
            }
        }
    }

    /// Chord's periodic self-lookup (Stoica et al., §5 on loopy rings): asks another peer who owns
    /// the key just after this node. That is our true successor; when the answer lies between us
    /// and the successor we have, we adopt it. The peer asked is the oldest suspect (a peer dropped
    /// as unresponsive, which may be back after a partition, so two rings that formed meanwhile
    /// merge), else a random finger (which routes through the rest of the ring, so a loop that
    /// skips part of the ring is found).
    mutating func selfCheck(now: OverlayInstant, _ actions: inout [OverlayAction]) {
        suspects.removeAll { $0.since.advanced(by: configuration.suspectRetention) < now }
        let target: OverlayPeer
        if let suspect = suspects.first {
            // Rotate, so every suspect is probed in turn until it answers or expires.
            suspects.append(suspects.removeFirst())
            target = suspect.peer
        } else {
            let far = fingers.compactMap { $0 }.filter { $0.id != successors.first?.id && $0.id != me.id }
            guard !far.isEmpty else { return }
            target = far[Int(random.next() % UInt64(far.count))]
        }
        selfLookup(through: target, now: now, &actions)
    }

    /// Asks `peer` who owns the key just after this node (our true successor); ``selfChecked(owner:now:_:)``
    /// takes the answer.
    mutating func selfLookup(through peer: OverlayPeer, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        var lookup = Lookup(key: me.id &+ NodeID(high: 0, middle: 0, low: 1), purpose: .selfCheck)
        lookup.candidates = [peer]
        askNext(lookup, now: now, &actions)
    }

    /// A peer found outside the ring's messages (local discovery): unless it is already a neighbour or finger,
    /// ask it who owns the key just after us, exactly as a self-check through a suspect does. In the peer's ring
    /// that is the node that should follow us; when it lies between us and our successor (always, for a node
    /// alone) we adopt it and stabilise, and notify/stabilise draw the two rings together.
    mutating func discovered(_ peer: OverlayPeer, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        guard phase == .joined, peer.id != me.id else { return }
        if predecessor?.id == peer.id || knownPeers.contains(where: { $0.id == peer.id }) { return }
        selfLookup(through: peer, now: now, &actions)
    }

    /// The end of a self-lookup: adopt the owner found when it is closer than our successor.
    mutating func selfChecked(owner: OverlayPeer?, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        guard let owner, owner.id != me.id else { return }
        if let successor = successors.first, !owner.id.isBetween(me.id, successor.id) { return }
        successors = Array(([owner] + successors.filter { $0.id != owner.id }).prefix(configuration.successorListLength))
        successorsChanged(now: now, &actions)
        stabilize(now: now, &actions)
    }

    /// Chord `stabilize`: ask the successor for its predecessor and successor list.
    mutating func stabilize(now: OverlayInstant, _ actions: inout [OverlayAction]) {
        if successors.isEmpty, let fallback = predecessor ?? suspects.last?.peer { successors = [fallback] }
        guard let successor = successors.first else { return }
        sendRequest({ .stabilizeRequest(id: $0) }, to: successor.address, pending: .stabilize(successor), &actions)
    }

    mutating func stabilized(
        successor: OverlayPeer,
        theirPredecessor: OverlayPeer?,
        theirSuccessors: [OverlayPeer],
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        // The answer is stale if our successor changed while it was in flight (a notify
        // brought a closer one); the next round asks the new one.
        guard successors.first?.id == successor.id else { return }
        var closer: OverlayPeer?
        if let candidate = theirPredecessor, candidate.id != me.id, candidate.id.isBetween(me.id, successor.id) {
            closer = candidate
        }
        // Chord: our list is the successor followed by its list (Stoica et al. §5.2), so a
        // skipped entry is repaired as soon as the successor's own list is right.
        var list = [successor]
        for peer in theirSuccessors where peer.id != me.id && !list.contains(where: { $0.id == peer.id }) {
            list.append(peer)
        }
        if let closer {
            // The successor's predecessor lies between us: it is a closer successor. Ask it
            // at once instead of a period later, so a successor that skipped several fresh
            // joiners walks back to the true one in round trips, not stabilisation periods.
            successors = Array(([closer] + list).prefix(configuration.successorListLength))
            successorsChanged(now: now, &actions)
            stabilize(now: now, &actions)
            return
        }
        successors = Array(list.prefix(configuration.successorListLength))
        successorsChanged(now: now, &actions)
        send(.notify, to: successor.address, &actions)
    }

    /// Chord `notify`: the sender might be our predecessor. A joined sender is alive, so when it
    /// lies between us and our successor it is also a closer successor: adopt it (a fresh
    /// joiner notifies the predecessor its admitting peer named, see ``joined``).
    mutating func notified(by sender: OverlayPeer, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        guard phase == .joined else { return }
        if predecessor == nil || sender.id.isBetween(predecessor?.id ?? me.id, me.id) {
            setPredecessor(sender, now: now, &actions)
        }
        if let successor = successors.first {
            if sender.id.isBetween(me.id, successor.id) {
                successors = Array(([sender] + successors).prefix(configuration.successorListLength))
                successorsChanged(now: now, &actions)
                stabilize(now: now, &actions)
            }
        } else {
            successors = [sender]
            successorsChanged(now: now, &actions)
        }
    }

    /// Sets the predecessor; when this grows the range owned (the old one failed or left),
    /// pushes the records now owned to the replica set.
    mutating func setPredecessor(_ peer: OverlayPeer?, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        let previous = lastKnownPredecessor
        predecessor = peer
        guard let peer else { return }
        lastKnownPredecessor = peer
        if let previous, previous.id != peer.id, previous.id.isBetween(peer.id, me.id) {
            replicate(ownedRecords, to: Array(successors.prefix(configuration.replicaCount - 1)), &actions)
        }
    }

    /// Re-replication: pushes owned records to successors that newly entered the replica set.
    mutating func successorsChanged(now: OverlayInstant, _ actions: inout [OverlayAction]) {
        let replicaSet = successors.prefix(configuration.replicaCount - 1)
        let newcomers = replicaSet.filter { !replicatedTo.contains($0.id) }
        guard !newcomers.isEmpty || replicaSet.count != replicatedTo.count else { return }
        replicatedTo = replicaSet.map(\.id)
        replicate(ownedRecords, to: newcomers, &actions)
    }

    /// Records whose key this node owns.
    var ownedRecords: [ResourceRecord] {
        store.records(inRange: ownershipLowerBound, upperInclusive: me.id)
    }

    func replicate(_ records: [ResourceRecord], to peers: [OverlayPeer], _ actions: inout [OverlayAction]) {
        guard !records.isEmpty else { return }
        for peer in peers where peer.id != me.id {
            send(.store(id: 0, records: records, isReplica: true), to: peer.address, &actions)
        }
    }

    mutating func peerUnreachable(_ address: OverlayAddress, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        let failed = pending.filter { $0.value.address == address }.map(\.key).sorted()
        for peer in knownPeers where peer.address == address { forget(peer.id, now: now, &actions) }
        if predecessor?.address == address { predecessor = nil }
        for id in failed {
            guard let entry = pending.removeValue(forKey: id) else { continue }
            requestFailed(entry, now: now, &actions)
        }
    }

    // MARK: - Join and leave

    /// The admitting peer (seed 003): the joiner becomes our predecessor and receives its
    /// neighbours, our fingers, and the records it now owns; we keep copies as its replica.
    mutating func admit(_ joiner: OverlayPeer, requestID: UInt64, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        guard phase == .joined, joiner.id != me.id else { return }
        let previous = predecessor ?? lastKnownPredecessor
        if let previous, !joiner.id.isBetween(previous.id, me.id) {
            // Not the joiner's successor (a newer node sits between us): refuse with an empty
            // hand-over naming our predecessor, which is closer to the joiner's place.
            send(.joinResponse(id: requestID, predecessor: previous, successors: [], fingers: [], records: []), to: joiner.address, &actions)
            return
        }
        let handedOver = store.records(inRange: previous?.id ?? me.id, upperInclusive: joiner.id)
        predecessor = joiner
        lastKnownPredecessor = joiner
        if successors.isEmpty {
            successors = [joiner]
            successorsChanged(now: now, &actions)
        }
        let theirSuccessors = [me] + successors.filter { $0.id != joiner.id }.prefix(configuration.successorListLength - 1)
        send(
            .joinResponse(
                id: requestID,
                predecessor: previous ?? me,
                successors: Array(theirSuccessors),
                fingers: fingers.compactMap { $0 },
                records: handedOver
            ),
            to: joiner.address,
            &actions
        )
    }

    mutating func joined(
        predecessor theirPredecessor: OverlayPeer?,
        successors theirSuccessors: [OverlayPeer],
        fingers theirFingers: [OverlayPeer],
        records: [ResourceRecord],
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard phase == .joining else { return }
        phase = .joined
        if let theirPredecessor, theirPredecessor.id != me.id {
            predecessor = theirPredecessor
            lastKnownPredecessor = theirPredecessor
        }
        successors = Array(theirSuccessors.filter { $0.id != me.id }.prefix(configuration.successorListLength))
        // Seed each finger with the known peer nearest at or after its start.
        let known = (theirFingers + successors).filter { $0.id != me.id }
        for index in fingers.indices {
            let start = fingerStart(index)
            fingers[index] = known.min { start.distance(to: $0.id) < start.distance(to: $1.id) }
        }
        var changed = false
        for record in records {
            if (try? store.accept(record, now: now)) == true { changed = true }
        }
        if changed { actions.append(.storeChanged) }
        successorsChanged(now: now, &actions)
        actions.append(.phaseChanged(.joined))
        startTimers(&actions)
        stabilize(now: now, &actions)
        // Tell the predecessor at once that we now follow it, instead of leaving it to find us
        // through its successor's predecessor a stabilisation period later.
        if let predecessor, predecessor.id != successors.first?.id {
            send(.notify, to: predecessor.address, &actions)
        }
    }

    /// Graceful leave: the successor takes over our records and predecessor; the predecessor
    /// learns our successors.
    mutating func leave(_ actions: inout [OverlayAction]) {
        guard phase == .joined else { return }
        if let successor = successors.first {
            send(.leaving(predecessor: predecessor, successors: successors, records: ownedRecords), to: successor.address, &actions)
        }
        if let predecessor, predecessor.id != successors.first?.id {
            send(.leaving(predecessor: predecessor, successors: successors, records: []), to: predecessor.address, &actions)
        }
        phase = .left
        pending.removeAll()
        waiting.removeAll()
        actions.append(.phaseChanged(.left))
    }

    mutating func departed(
        _ leaver: OverlayPeer,
        predecessor theirPredecessor: OverlayPeer?,
        successors theirSuccessors: [OverlayPeer],
        records: [ResourceRecord],
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard phase == .joined else { return }
        var changed = false
        for record in records {
            if (try? store.accept(record, now: now)) == true { changed = true }
        }
        if changed { actions.append(.storeChanged) }
        let wasSuccessor = successors.first?.id == leaver.id
        let wasPredecessor = predecessor?.id == leaver.id || lastKnownPredecessor?.id == leaver.id
        for index in fingers.indices where fingers[index]?.id == leaver.id { fingers[index] = nil }
        if wasSuccessor {
            var list: [OverlayPeer] = []
            for peer in theirSuccessors + successors where peer.id != me.id && peer.id != leaver.id && !list.contains(where: { $0.id == peer.id }) {
                list.append(peer)
            }
            successors = Array(list.prefix(configuration.successorListLength))
        } else {
            successors.removeAll { $0.id == leaver.id }
        }
        if wasPredecessor {
            let next = theirPredecessor.flatMap { $0.id == me.id ? nil : $0 }
            predecessor = nil
            if let next {
                setPredecessor(next, now: now, &actions)
            } else {
                lastKnownPredecessor = nil
                replicate(ownedRecords, to: Array(successors.prefix(configuration.replicaCount - 1)), &actions)
            }
        }
        successorsChanged(now: now, &actions)
    }

    // MARK: - Storage

    /// Stores a record as its owner and pushes it to the replica set.
    mutating func storeAsOwner(_ record: ResourceRecord, now: OverlayInstant, _ actions: inout [OverlayAction]) -> OverlayStoreStatus {
        do {
            if try store.accept(record, now: now) {
                actions.append(.storeChanged)
                replicate([record], to: Array(successors.prefix(configuration.replicaCount - 1)), &actions)
            }
            return .stored
        } catch {
            return .refused(error.code)
        }
    }

    mutating func handleStore(
        id: UInt64,
        records: [ResourceRecord],
        isReplica: Bool,
        from sender: OverlayPeer,
        now: OverlayInstant,
        _ actions: inout [OverlayAction]
    ) {
        guard phase == .joined else { return }
        if isReplica {
            var changed = false
            for record in records {
                if (try? store.accept(record, now: now)) == true { changed = true }
            }
            if changed { actions.append(.storeChanged) }
            return
        }
        guard let record = records.first, records.count == 1 else {
            send(.storeResponse(id: id, status: .refused(.malformedMessage)), to: sender.address, &actions)
            return
        }
        let status = owns(record.resourceID.id) ? storeAsOwner(record, now: now, &actions) : .notResponsible
        send(.storeResponse(id: id, status: status), to: sender.address, &actions)
    }
}

extension ChordNode {
    /// Installs a converged ring position directly (simulations start large rings this way
    /// rather than through thousands of joins). Not protocol behaviour; unstable API.
    /// - Parameters:
    ///   - predecessor: the true predecessor.
    ///   - successors: the true successors, nearest first.
    ///   - ownerOf: the true owner of a key, used to fill the finger table.
    public mutating func _assumeConverged(
        predecessor: OverlayPeer?,
        successors: [OverlayPeer],
        ownerOf: (NodeID) -> OverlayPeer,
        into actions: inout [OverlayAction]
    ) {
        phase = .joined
        self.predecessor = predecessor
        lastKnownPredecessor = predecessor
        self.successors = Array(successors.prefix(configuration.successorListLength))
        replicatedTo = self.successors.prefix(configuration.replicaCount - 1).map(\.id)
        for index in fingers.indices {
            let owner = ownerOf(fingerStart(index))
            fingers[index] = owner.id == me.id ? nil : owner
        }
        startTimers(&actions)
    }

    /// Stores records directly, as if replicated earlier (simulation set-up; unstable API).
    public mutating func _preload(_ records: [ResourceRecord], now: OverlayInstant) {
        for record in records { _ = try? store.accept(record, now: now) }
    }
}
