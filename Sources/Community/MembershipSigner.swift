import Crypto
public import Foundation
public import Overlay

/// Something that signs community objects: a node's ``NodeIdentity`` (member key) or a community's
/// ``FoundingKey``.
public protocol MembershipSigner: Sendable {
    /// The raw 32-byte Ed25519 public key.
    var publicKey: [UInt8] { get }
    /// An Ed25519 signature over `data`.
    func sign(_ data: [UInt8]) -> [UInt8]
}

extension NodeIdentity: MembershipSigner {}

/// Whether `signature` is a valid Ed25519 signature by `publicKey` over `data`.
func isValidSignature(_ signature: [UInt8], by publicKey: [UInt8], over data: [UInt8]) -> Bool {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
    return key.isValidSignature(signature, for: data)
}

/// A community's founding key: a separate Ed25519 key pair, created with the community, whose public
/// half every member holds and every membership chain ends at.
///
/// Kept like the node identity: one file of 32 raw bytes with mode 0600; a file others can read is refused.
public struct FoundingKey: MembershipSigner {
    /// The raw 32 private bytes (the Crypto key type is not `Sendable`).
    private let privateKeyBytes: [UInt8]
    /// The raw 32-byte public key.
    public let publicKey: [UInt8]

    init(privateKey: Curve25519.Signing.PrivateKey) {
        privateKeyBytes = Array(privateKey.rawRepresentation)
        publicKey = Array(privateKey.publicKey.rawRepresentation)
    }

    /// A fresh random founding key.
    public static func generate() -> FoundingKey { FoundingKey(privateKey: Curve25519.Signing.PrivateKey()) }

    /// A founding key from its raw 32 private bytes; nil when they are not a key.
    public init?(rawRepresentation bytes: [UInt8]) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes) else { return nil }
        self.init(privateKey: key)
    }

    public func sign(_ data: [UInt8]) -> [UInt8] {
        // A key built from valid bytes always signs; an empty signature would be refused by every verifier.
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes) else { return [] }
        return (try? Array(key.signature(for: data))) ?? []
    }

    /// The file name of a community's founding key inside the node's data directory.
    public static func fileName(for id: CommunityID) -> String { "community-\(id.shortDescription).key" }

    /// Writes the key to `url` with mode 0600; refuses to overwrite an existing file.
    public func save(to url: URL) throws(CommunityError) {
        let path = url.path
        if FileManager.default.fileExists(atPath: path) {
            throw CommunityError(.keyFile, "founding key \(path) already exists; refusing to overwrite it")
        }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw CommunityError(.keyFile, "founding key \(path): cannot create its directory: \(error)")
        }
        let created = FileManager.default.createFile(
            atPath: path, contents: Data(privateKeyBytes), attributes: [.posixPermissions: 0o600])
        guard created else { throw CommunityError(.keyFile, "founding key \(path): could not create the file") }
    }

    /// Reads a key written by ``save(to:)``; refuses a file that group or others can read.
    public static func load(from url: URL) throws(CommunityError) -> FoundingKey {
        let path = url.path
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw CommunityError(.keyFile, "founding key \(path) cannot be read: \(error.localizedDescription)")
        }
        if let mode = attributes[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
            throw CommunityError(
                .keyFile, "founding key \(path) has mode \(String(mode.intValue, radix: 8)), which lets others read it; chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path), let key = FoundingKey(rawRepresentation: Array(data)) else {
            throw CommunityError(.keyFile, "founding key \(path) does not hold a 32-byte Ed25519 key")
        }
        return key
    }
}
