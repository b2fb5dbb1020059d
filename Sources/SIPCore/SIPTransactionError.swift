/// Why the transaction layer refused a message or an event.
public struct SIPTransactionError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case missingVia
        case missingBranch
        case missingCSeq
        case cseqMethodMismatch
        case missingCallID
        case ackHasNoTransaction
        case transactionExists
        case noSuchTransaction
    }

    private let code: Code
    /// What was wrong, for logs.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The message has no parseable top Via (RFC 3261 §8.1.1.7).
    public static let missingVia = SIPTransactionError(.missingVia, "the message has no parseable Via header")
    /// The top Via of a request we send has no branch parameter (RFC 3261 §8.1.1.7).
    public static let missingBranch = SIPTransactionError(.missingBranch, "the top Via has no branch parameter")
    /// The message has no parseable CSeq (RFC 3261 §8.1.1.5).
    public static let missingCSeq = SIPTransactionError(.missingCSeq, "the message has no parseable CSeq header")
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    public static let cseqMethodMismatch = SIPTransactionError(.cseqMethodMismatch, "the CSeq method differs from the request method")
    /// A request without a branch cookie lacks the Call-ID needed for RFC 2543 matching (§17.2.3).
    public static let missingCallID = SIPTransactionError(.missingCallID, "the message has no Call-ID header")
    /// The TU tried to send an ACK through a client transaction; an ACK for a 2xx is sent
    /// directly (RFC 3261 §17.1.1.3, §13.2.2.4).
    public static let ackHasNoTransaction = SIPTransactionError(.ackHasNoTransaction, "an ACK is not sent through a client transaction")
    /// A transaction with the same key already exists (the branch was reused).
    public static let transactionExists = SIPTransactionError(.transactionExists, "a transaction with this branch and method already exists")
    /// No transaction has the given key (it terminated or never existed).
    public static let noSuchTransaction = SIPTransactionError(.noSuchTransaction, "no transaction has this key")

    public var description: String { "SIPTransactionError: \(detail)" }

    public static func == (lhs: SIPTransactionError, rhs: SIPTransactionError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
