/// An error from the overlay: a refused record, a failed lookup, a malformed message.
public struct OverlayError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: UInt8, Hashable, Sendable {
        /// The record's signature does not verify against its owner's public key.
        case badSignature = 1
        /// The record's owner key is not a valid Ed25519 public key.
        case badOwnerKey = 2
        /// A record with an equal or higher sequence from the same owner is already stored.
        case staleSequence = 3
        /// The record's expiry has passed.
        case expired = 4
        /// The record is larger than the storing node accepts.
        case recordTooLarge = 5
        /// The lookup ran out of peers to ask before it found the owner.
        case lookupFailed = 6
        /// No answer came from the peers responsible for the key within the retries allowed.
        case timeout = 7
        /// The node asked does not own the key (its view of the ring differs).
        case notResponsible = 8
        /// The node is not part of a ring yet (or has left it).
        case notJoined = 9
        /// The bytes do not form a valid overlay message.
        case malformedMessage = 10
        /// The record is not held by any node asked.
        case notFound = 11
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, in words.
    public let detail: String

    /// Creates an error.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "overlay \(code): \(detail)" }

    public static func == (lhs: OverlayError, rhs: OverlayError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// A point in time as milliseconds since an epoch chosen by whoever drives the node.
///
/// Protocol logic never reads the wall clock (STYLE); the driver passes `now` with every event.
/// Record expiries travel between nodes, so production drivers use the Unix epoch.
public struct OverlayInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since the epoch.
    public var milliseconds: Int64

    /// Creates an instant.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// The epoch.
    public static let zero = OverlayInstant(milliseconds: 0)

    /// This instant moved by `duration`.
    public func advanced(by duration: Duration) -> OverlayInstant {
        OverlayInstant(milliseconds: milliseconds &+ duration.overlayMilliseconds)
    }

    /// The duration from this instant to `other`.
    public func duration(to other: OverlayInstant) -> Duration { .milliseconds(other.milliseconds - milliseconds) }

    public static func < (lhs: OverlayInstant, rhs: OverlayInstant) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String { "t=\(milliseconds)ms" }
}

extension Duration {
    /// The duration in whole milliseconds.
    var overlayMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1000 &+ attoseconds / 1_000_000_000_000_000
    }
}
