import Crypto

/// A resource record stored in the overlay, signed by the node that stored it.
///
/// Seed 003 (P2PSIP concepts): a Resource-ID keys the record, the owner signs it, and
/// storing peers refuse forged (bad signature) or stale (lower sequence, expired) writes.
/// Several owners may store under the same name (e.g. providers of one service); each owner
/// has its own slot, `(resourceID, kind, owner)`. A removal is a signed tombstone with a higher
/// sequence, so an old copy on a replica cannot bring a removed record back.
public struct ResourceRecord: Hashable, Sendable, CustomStringConvertible {
    /// What the record describes; the usages (``UserRegistration``, ``ServiceRegistration``) pick one.
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        /// An AoR → contacts binding.
        case user = 1
        /// A service provider within a sub-community.
        case service = 2
        /// Community membership.
        case membership = 3
        /// Anything else.
        case generic = 4
    }

    /// The kind of record.
    public let kind: Kind
    /// The resource name the Resource-ID is derived from.
    public let name: String
    /// The payload.
    public let value: [UInt8]
    /// The owner's raw Ed25519 public key (32 bytes).
    public let ownerPublicKey: [UInt8]
    /// The owner's sequence number; a write must carry a higher one than the stored copy.
    public let sequence: UInt64
    /// When the record stops being valid.
    public let expiry: OverlayInstant
    /// Whether this is a removal tombstone.
    public let isRemoval: Bool
    /// The Ed25519 signature over ``signedBytes``.
    public let signature: [UInt8]
    /// SHA-1 of ``name``.
    public let resourceID: ResourceID
    /// SHA-1 of ``ownerPublicKey``: the Node-ID of the node that stored the record.
    public let owner: NodeID

    /// The largest value a node stores.
    public static let maximumValueSize = 4096

    /// Creates a record from its fields as received (no verification; see ``verify(now:)``).
    public init(
        kind: Kind,
        name: String,
        value: [UInt8],
        ownerPublicKey: [UInt8],
        sequence: UInt64,
        expiry: OverlayInstant,
        isRemoval: Bool,
        signature: [UInt8]
    ) {
        self.kind = kind
        self.name = name
        self.value = value
        self.ownerPublicKey = ownerPublicKey
        self.sequence = sequence
        self.expiry = expiry
        self.isRemoval = isRemoval
        self.signature = signature
        resourceID = ResourceID(name: name)
        owner = NodeID(hashing: ownerPublicKey)
    }

    /// Creates a record signed by `identity`.
    public static func signed(
        kind: Kind,
        name: String,
        value: [UInt8],
        sequence: UInt64,
        expiry: OverlayInstant,
        isRemoval: Bool = false,
        by identity: NodeIdentity
    ) -> ResourceRecord {
        let unsigned = ResourceRecord(
            kind: kind, name: name, value: value, ownerPublicKey: identity.publicKey,
            sequence: sequence, expiry: expiry, isRemoval: isRemoval, signature: []
        )
        return unsigned.with(signature: identity.sign(unsigned.signedBytes))
    }

    /// A removal tombstone for this record's slot, signed by `identity`.
    public static func removal(
        of kind: Kind,
        name: String,
        sequence: UInt64,
        expiry: OverlayInstant,
        by identity: NodeIdentity
    ) -> ResourceRecord {
        signed(kind: kind, name: name, value: [], sequence: sequence, expiry: expiry, isRemoval: true, by: identity)
    }

    func with(signature: [UInt8]) -> ResourceRecord {
        ResourceRecord(
            kind: kind, name: name, value: value, ownerPublicKey: ownerPublicKey,
            sequence: sequence, expiry: expiry, isRemoval: isRemoval, signature: signature
        )
    }

    /// The bytes the signature covers: every field except the signature, in wire order.
    public var signedBytes: [UInt8] {
        var buffer: [UInt8] = Array("smf-overlay-record-v1".utf8)
        writeUnsignedFields(to: &buffer)
        return buffer
    }

    func writeUnsignedFields(to sink: inout some OverlayByteSink) {
        sink.write(byte: kind.rawValue)
        sink.write(string: name)
        sink.write(lengthPrefixed: value)
        sink.write(lengthPrefixed: ownerPublicKey)
        sink.write(varint: sequence)
        sink.write(varint: UInt64(bitPattern: expiry.milliseconds))
        sink.write(byte: isRemoval ? 1 : 0)
    }

    func write(to sink: inout some OverlayByteSink) {
        writeUnsignedFields(to: &sink)
        sink.write(lengthPrefixed: signature)
    }

    static func read(from reader: inout OverlayByteReader) throws(OverlayError) -> ResourceRecord {
        guard let kind = Kind(rawValue: try reader.readByte()) else {
            throw OverlayError(.malformedMessage, "unknown record kind before byte \(reader.offset)")
        }
        let name = try reader.readString(limit: 1024)
        let value = try reader.readLengthPrefixed(limit: maximumValueSize)
        let key = try reader.readLengthPrefixed(limit: 64)
        let sequence = try reader.readVarint()
        let expiry = OverlayInstant(milliseconds: Int64(bitPattern: try reader.readVarint()))
        let flags = try reader.readByte()
        let signature = try reader.readLengthPrefixed(limit: 128)
        return ResourceRecord(
            kind: kind, name: name, value: value, ownerPublicKey: key, sequence: sequence,
            expiry: expiry, isRemoval: flags & 1 != 0, signature: signature
        )
    }

    /// Checks the signature and expiry; throws a typed error saying what is wrong.
    public func verify(now: OverlayInstant) throws(OverlayError) {
        guard value.count <= Self.maximumValueSize else {
            throw OverlayError(.recordTooLarge, "record \(name) value is \(value.count) bytes, limit \(Self.maximumValueSize)")
        }
        guard expiry > now else {
            throw OverlayError(.expired, "record \(name) from \(owner.shortDescription) expired at \(expiry), now \(now)")
        }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: ownerPublicKey) else {
            throw OverlayError(.badOwnerKey, "record \(name) carries a \(ownerPublicKey.count)-byte owner key, not an Ed25519 key")
        }
        guard key.isValidSignature(signature, for: signedBytes) else {
            throw OverlayError(.badSignature, "record \(name) signature does not verify against owner \(owner.shortDescription)")
        }
    }

    /// The slot this record occupies in a store.
    public var slot: Slot { Slot(resourceID: resourceID, kind: kind, owner: owner) }

    /// The key under which a store keeps one owner's record for one resource.
    public struct Slot: Hashable, Sendable {
        /// The resource.
        public var resourceID: ResourceID
        /// The kind of record.
        public var kind: Kind
        /// The node that stored it.
        public var owner: NodeID
    }

    public var description: String {
        "\(kind) \(name) seq=\(sequence) owner=\(owner.shortDescription)\(isRemoval ? " (removed)" : "")"
    }
}
