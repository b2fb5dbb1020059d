public import SIPSyntax

/// What the transaction layer asks the transport and the TU to do, tagged with the transaction
/// it concerns (RFC 3261 §17).
public enum SIPTransactionLayerAction: Hashable, Sendable {
    /// Send (or resend) a request of the transaction.
    case sendRequest(SIPTransactionKey, SIPRequest)
    /// Send an ACK the client INVITE transaction built for a non-2xx final (§17.1.1.3).
    case sendAck(SIPTransactionKey, SIPRequest)
    /// Send (or resend) a response of the transaction.
    case sendResponse(SIPTransactionKey, SIPResponse)
    /// Start `timer` for the transaction, replacing a running instance of the same timer.
    case scheduleTimer(SIPTransactionKey, SIPTimer, after: Duration)
    /// Stop `timer` of the transaction if it is running.
    case cancelTimer(SIPTransactionKey, SIPTimer)
    /// Pass a response of a client transaction to the TU.
    case deliverResponseToTU(SIPTransactionKey, SIPResponse)
    /// Pass a request to the TU: a new request that created a server transaction, or an ACK
    /// matching an INVITE server transaction in RFC 6026 "Accepted".
    case deliverRequestToTU(SIPTransactionKey, SIPRequest)
    /// The transaction timed out; for a client transaction the TU acts as on a 408 (§8.1.3.1).
    case reportTimeout(SIPTransactionKey)
    /// The transport failed; for a client transaction the TU acts as on a 503 (§8.1.3.1).
    case reportTransportError(SIPTransactionKey)
    /// The transaction terminated and was removed: cancel all its timers.
    case transactionTerminated(SIPTransactionKey)
    /// A 2xx to an INVITE matched no transaction; the TU (its dialog) decides (§17.1.1.2, §13.2.2.4).
    case deliverStrayResponseToTU(SIPResponse)
    /// An ACK matched no INVITE server transaction, so it acknowledges a 2xx and goes to the TU
    /// without a transaction (§17.2.3, §13.3.1.4).
    case deliverAckToTU(SIPRequest)
    /// A response matched no client transaction and is dropped (§18.1.2); reported for logging.
    case discardStrayResponse(SIPResponse)
    /// A request could not be matched (no Via, CSeq, …) and is dropped; the caller may answer
    /// a non-ACK request statelessly with 400 (§8.2).
    case discardInvalidRequest(SIPRequest, SIPTransactionError)
}

/// The SIP transaction layer without I/O (RFC 3261 §17): owns every client and server
/// transaction by key, routes messages, timer firings and transport errors to the right state
/// machine, and turns their actions into ``SIPTransactionLayerAction``s.
///
/// Whoever drives it (the transport) carries out the actions in order and reports back events:
/// ``responseReceived(_:)``, ``requestReceived(_:reliability:)``, ``timerFired(_:for:)`` and
/// ``transportFailed(for:)``; the TU calls ``tuSentRequest(_:reliability:)`` and
/// ``tuSentResponse(_:for:)``. Terminated transactions are removed at once; firings of their
/// timers that were already in flight are ignored.
public struct SIPTransactionLayer: Sendable {
    enum Transaction: Sendable {
        case inviteClient(SIPInviteClientTransaction)
        case nonInviteClient(SIPNonInviteClientTransaction)
        case inviteServer(SIPInviteServerTransaction)
        case nonInviteServer(SIPNonInviteServerTransaction)
    }

    /// The timer values given to transactions created from now on.
    public var configuration: SIPTimerConfiguration
    private var transactions: [SIPTransactionKey: Transaction] = [:]

    public init(configuration: SIPTimerConfiguration = .init()) {
        self.configuration = configuration
    }

    /// How many transactions are alive.
    public var count: Int { transactions.count }

    /// Whether a transaction with `key` is alive.
    public func contains(_ key: SIPTransactionKey) -> Bool { transactions[key] != nil }

    // MARK: - Events from the TU

    /// The TU sends a request: create its client transaction and start it (RFC 3261 §17.1).
    ///
    /// The request must carry a top Via with a fresh branch (see ``SIPBranch``) and a CSeq.
    /// - Returns: the new transaction's key and the actions that send the request and start its timers.
    public mutating func tuSentRequest(
        _ request: SIPRequest,
        reliability: SIPTransportReliability
    ) throws(SIPTransactionError) -> (key: SIPTransactionKey, actions: [SIPTransactionLayerAction]) {
        guard request.method != .ack else { throw .ackHasNoTransaction }
        let key = try SIPTransactionKey.client(for: request)
        guard transactions[key] == nil else { throw .transactionExists }
        let actions: [SIPTransactionAction]
        if request.method == .invite {
            var transaction = SIPInviteClientTransaction(request: request, reliability: reliability, configuration: configuration)
            actions = transaction.started()
            transactions[key] = .inviteClient(transaction)
        } else {
            var transaction = SIPNonInviteClientTransaction(request: request, reliability: reliability, configuration: configuration)
            actions = transaction.started()
            transactions[key] = .nonInviteClient(transaction)
        }
        return (key, tag(actions, with: key))
    }

    /// The TU answers the request of server transaction `key` (RFC 3261 §17.2).
    public mutating func tuSentResponse(
        _ response: SIPResponse,
        for key: SIPTransactionKey
    ) throws(SIPTransactionError) -> [SIPTransactionLayerAction] {
        guard transactions[key] != nil else { throw .noSuchTransaction }
        return update(key) { transaction in
            switch transaction {
            case .inviteServer(var t):
                let actions = t.tuSentResponse(response)
                transaction = .inviteServer(t)
                return actions
            case .nonInviteServer(var t):
                let actions = t.tuSentResponse(response)
                transaction = .nonInviteServer(t)
                return actions
            case .inviteClient, .nonInviteClient:
                return []
            }
        }
    }

    // MARK: - Events from the transport

    /// A response arrived: pass it to its client transaction, or report it as stray (§17.1.3, §18.1.2).
    public mutating func responseReceived(_ response: SIPResponse) -> [SIPTransactionLayerAction] {
        guard let key = SIPTransactionKey.client(matching: response), transactions[key] != nil else {
            if (200..<300).contains(response.statusCode), response.headers.cseq?.method == .invite {
                return [.deliverStrayResponseToTU(response)]
            }
            return [.discardStrayResponse(response)]
        }
        return update(key) { transaction in
            switch transaction {
            case .inviteClient(var t):
                let actions = t.responseReceived(response)
                transaction = .inviteClient(t)
                return actions
            case .nonInviteClient(var t):
                let actions = t.responseReceived(response)
                transaction = .nonInviteClient(t)
                return actions
            case .inviteServer, .nonInviteServer:
                return []
            }
        }
    }

    /// A request arrived: pass it to its server transaction, or create one (§17.2.3).
    ///
    /// An ACK that matches an INVITE server transaction goes to it; any other ACK acknowledges
    /// a 2xx and goes to the TU without a transaction.
    public mutating func requestReceived(_ request: SIPRequest, reliability: SIPTransportReliability) -> [SIPTransactionLayerAction] {
        let key: SIPTransactionKey
        do {
            key = try SIPTransactionKey.server(for: request)
        } catch {
            return [.discardInvalidRequest(request, error)]
        }
        if request.method == .ack {
            guard case .inviteServer(let existing) = transactions[key], ackMatches(request, existing, key) else {
                return [.deliverAckToTU(request)]
            }
            return update(key) { transaction in
                guard case .inviteServer(var t) = transaction else { return [] }
                let actions = t.ackReceived(request)
                transaction = .inviteServer(t)
                return actions
            }
        }
        if transactions[key] != nil {
            return update(key) { transaction in
                switch transaction {
                case .inviteServer(var t):
                    let actions = t.requestRetransmissionReceived()
                    transaction = .inviteServer(t)
                    return actions
                case .nonInviteServer(var t):
                    let actions = t.requestRetransmissionReceived()
                    transaction = .nonInviteServer(t)
                    return actions
                case .inviteClient, .nonInviteClient:
                    return []
                }
            }
        }
        let actions: [SIPTransactionAction]
        if request.method == .invite {
            var transaction = SIPInviteServerTransaction(request: request, reliability: reliability, configuration: configuration)
            actions = transaction.started()
            transactions[key] = .inviteServer(transaction)
        } else {
            var transaction = SIPNonInviteServerTransaction(request: request, reliability: reliability, configuration: configuration)
            actions = transaction.started()
            transactions[key] = .nonInviteServer(transaction)
        }
        return tag(actions, with: key)
    }

    /// A timer of transaction `key` fired; firings for transactions that are gone are ignored.
    public mutating func timerFired(_ timer: SIPTimer, for key: SIPTransactionKey) -> [SIPTransactionLayerAction] {
        update(key) { transaction in
            switch transaction {
            case .inviteClient(var t):
                let actions = t.timerFired(timer)
                transaction = .inviteClient(t)
                return actions
            case .nonInviteClient(var t):
                let actions = t.timerFired(timer)
                transaction = .nonInviteClient(t)
                return actions
            case .inviteServer(var t):
                let actions = t.timerFired(timer)
                transaction = .inviteServer(t)
                return actions
            case .nonInviteServer(var t):
                let actions = t.timerFired(timer)
                transaction = .nonInviteServer(t)
                return actions
            }
        }
    }

    /// The transport failed to send a message of transaction `key` (RFC 3261 §17.1.4, §17.2.4).
    public mutating func transportFailed(for key: SIPTransactionKey) -> [SIPTransactionLayerAction] {
        update(key) { transaction in
            switch transaction {
            case .inviteClient(var t):
                let actions = t.transportFailed()
                transaction = .inviteClient(t)
                return actions
            case .nonInviteClient(var t):
                let actions = t.transportFailed()
                transaction = .nonInviteClient(t)
                return actions
            case .inviteServer(var t):
                let actions = t.transportFailed()
                transaction = .inviteServer(t)
                return actions
            case .nonInviteServer(var t):
                let actions = t.transportFailed()
                transaction = .nonInviteServer(t)
                return actions
            }
        }
    }

    // MARK: - Lookups

    /// The INVITE server transaction a received CANCEL refers to (RFC 3261 §9.2), if it is alive.
    ///
    /// The CANCEL itself has its own non-INVITE server transaction; the TU answers it with 200
    /// (or 481 when this returns `nil`) and answers the INVITE with 487.
    public func inviteServerTransaction(cancelledBy cancel: SIPRequest) -> SIPTransactionKey? {
        guard cancel.method == .cancel, let key = try? SIPTransactionKey.inviteServer(cancelledBy: cancel),
            case .inviteServer = transactions[key]
        else { return nil }
        return key
    }

    /// The request that created transaction `key`, if it is alive.
    public func request(for key: SIPTransactionKey) -> SIPRequest? {
        switch transactions[key] {
        case .inviteClient(let t): t.request
        case .nonInviteClient(let t): t.request
        case .inviteServer(let t): t.request
        case .nonInviteServer(let t): t.request
        case nil: nil
        }
    }

    // MARK: - Private

    /// For RFC 2543 keys the ACK's To tag must equal the tag of the response it acknowledges (§17.2.3).
    private func ackMatches(_ ack: SIPRequest, _ transaction: SIPInviteServerTransaction, _ key: SIPTransactionKey) -> Bool {
        guard key.isRFC2543 else { return true }
        return ack.headers.to?.tag == transaction.lastResponse?.headers.to?.tag
    }

    /// Runs `body` on the transaction stored under `key`, removes it when it terminated, and tags the actions.
    private mutating func update(
        _ key: SIPTransactionKey,
        _ body: (inout Transaction) -> [SIPTransactionAction]
    ) -> [SIPTransactionLayerAction] {
        guard var transaction = transactions.removeValue(forKey: key) else { return [] }
        let actions = body(&transaction)
        if !actions.contains(.terminate) {
            transactions[key] = transaction
        } else {
            transactions.shrinkIfSparse()
        }
        return tag(actions, with: key)
    }

    private func tag(_ actions: [SIPTransactionAction], with key: SIPTransactionKey) -> [SIPTransactionLayerAction] {
        actions.map { action in
            switch action {
            case .sendRequest(let request): .sendRequest(key, request)
            case .sendAck(let ack): .sendAck(key, ack)
            case .sendResponse(let response): .sendResponse(key, response)
            case .scheduleTimer(let timer, let after): .scheduleTimer(key, timer, after: after)
            case .cancelTimer(let timer): .cancelTimer(key, timer)
            case .deliverResponseToTU(let response): .deliverResponseToTU(key, response)
            case .deliverRequestToTU(let request): .deliverRequestToTU(key, request)
            case .reportTimeout: .reportTimeout(key)
            case .reportTransportError: .reportTransportError(key)
            case .terminate: .transactionTerminated(key)
            }
        }
    }
}
