import Foundation
import NIOCore
import NIOPosix

/// Where a node's control socket lives and how to tell a live one from a stale file.
public enum ControlSocket {
    /// The socket's file name inside the data directory.
    public static let fileName = "control.sock"

    /// `<dataDirectory>/control.sock`.
    public static func path(forDataDirectory dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent(fileName).path
    }

    /// What is at a socket path.
    enum Probe {
        /// No file.
        case absent
        /// A file that is not a socket (never removed on the user's behalf).
        case notASocket
        /// A socket file nobody listens on: left behind by a node that crashed.
        case stale
        /// A node accepted the connection.
        case live
        /// The connection failed for another reason (permissions, a full backlog, …), so liveness is unknown.
        case unknown(String)
    }

    /// Connects to `path` to learn whether a node serves it.
    static func probe(_ path: String, eventLoopGroup: any EventLoopGroup) async -> Probe {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return .absent }
        guard attributes[.type] as? FileAttributeType == .typeSocket else { return .notASocket }
        do {
            let channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: path).get()
            try? await channel.close()
            return .live
        } catch let error as IOError where error.errnoCode == ECONNREFUSED {
            return .stale
        } catch let error as IOError where error.errnoCode == ENOENT {
            return .absent
        } catch {
            return .unknown("\(error)")
        }
    }

    /// The inode of the file at `path`, to remove only the socket this process created.
    static func fileNumber(_ path: String) -> UInt64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
    }

    /// The longest socket path the system accepts (`sun_path` holds 108 bytes on Linux, 104 on macOS, with a NUL).
    static let maximumPathLength: Int = {
        #if os(Linux)
        107
        #else
        103
        #endif
    }()
}
