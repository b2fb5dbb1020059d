import Crypto
public import Foundation

/// A node's key pair and the Node-ID derived from it (seed 001: Node-ID = SHA-1 of the public key).
public struct NodeIdentity: Sendable {
    /// The raw 32-byte Curve25519 (Ed25519) private key.
    let privateKeyBytes: [UInt8]
    /// The raw 32-byte public key.
    public let publicKey: [UInt8]
    /// The node's identifier: SHA-1 of the raw public key.
    public let nodeID: NodeID

    init(privateKey: Curve25519.Signing.PrivateKey) {
        privateKeyBytes = Array(privateKey.rawRepresentation)
        publicKey = Array(privateKey.publicKey.rawRepresentation)
        nodeID = NodeID(hashing: publicKey)
    }

    /// Creates an identity from a raw 32-byte private key; nil if the bytes are not a key.
    public init?(privateKeyBytes: [UInt8]) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes) else { return nil }
        self.init(privateKey: key)
    }

    /// Creates a fresh random identity.
    public static func generate() -> NodeIdentity {
        NodeIdentity(privateKey: Curve25519.Signing.PrivateKey())
    }

    /// The file name of the key inside a node's data directory.
    public static let fileName = "identity.key"

    /// Loads `<directory>/identity.key`, or creates it (mode 0600) when it does not exist.
    ///
    /// A key file readable by group or others is refused, as ssh does, since the key is the
    /// node's identity in the overlay.
    public static func loadOrCreate(in directory: URL) throws(NodeIdentityError) -> NodeIdentity {
        let path = directory.appendingPathComponent(fileName).path
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: path) {
            return try load(path: path)
        }
        do {
            try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw NodeIdentityError(.unwritable, path: path, detail: "\(error)")
        }
        let identity = generate()
        let created = fileManager.createFile(
            atPath: path,
            contents: Data(identity.privateKeyBytes),
            attributes: [.posixPermissions: 0o600]
        )
        guard created else { throw NodeIdentityError(.unwritable, path: path, detail: "could not create the key file") }
        return identity
    }

    static func load(path: String) throws(NodeIdentityError) -> NodeIdentity {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw NodeIdentityError(.unreadable, path: path, detail: "\(error)")
        }
        if let permissions = attributes[.posixPermissions] as? NSNumber, permissions.intValue & 0o077 != 0 {
            throw NodeIdentityError(
                .insecurePermissions,
                path: path,
                detail: "mode \(String(permissions.intValue, radix: 8)) lets others read the key; chmod 600 it"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeIdentityError(.unreadable, path: path, detail: "could not read the key file")
        }
        do {
            return NodeIdentity(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: data))
        } catch {
            throw NodeIdentityError(.malformed, path: path, detail: "expected a 32-byte Ed25519 key, found \(data.count) bytes")
        }
    }

    /// Signs `data` with the node's key.
    public func sign(_ data: [UInt8]) -> [UInt8] {
        // Signing with a valid in-memory key does not fail in practice; an empty signature
        // would simply be refused by every verifier.
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes) else { return [] }
        return (try? Array(key.signature(for: data))) ?? []
    }
}

/// Why a node identity could not be loaded or created.
public struct NodeIdentityError: Error, CustomStringConvertible, Equatable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// The key file exists but could not be read.
        case unreadable
        /// The key file or directory could not be written.
        case unwritable
        /// The key file does not hold a valid key.
        case malformed
        /// The key file is readable by group or others.
        case insecurePermissions
    }

    /// The kind of failure.
    public let code: Code
    /// The key file concerned.
    public let path: String
    /// What went wrong.
    public let detail: String

    init(_ code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String { "node identity \(path): \(code): \(detail)" }
}
