import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks loopback ports for programs that need a port number before they start: external peers (Kamailio,
/// baresip) that take it from a configuration file, and `smf run` nodes that listen on one number for UDP and
/// TCP or restart on the same port. A program that binds port 0 itself needs none of this.
///
/// The ports come from 20000–29999, below Linux's ephemeral range (32768–60999), so sockets that other
/// tests bind to port 0 never collide with them; each candidate is checked free for UDP and TCP.
enum FreePorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var handedOut: Set<Int> = []

    /// `count` consecutive free ports (baresip needs two: SIP on P, SIP over TLS on P+1); returns the first.
    static func reserve(consecutive count: Int = 1) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        for _ in 0..<500 {
            let first = Int.random(in: 20000...(29999 - count))
            let range = first..<(first + count)
            guard range.allSatisfy({ !handedOut.contains($0) && isFree($0) }) else { continue }
            handedOut.formUnion(range)
            return first
        }
        throw ProcessTestError(description: "found no \(count) consecutive free loopback ports in 20000-29999")
    }

    /// True when both a UDP and a TCP socket can bind 127.0.0.1:`port`.
    static func isFree(_ port: Int) -> Bool {
        canBind(port: port, type: Int32(SOCK_DGRAM.rawValue)) && canBind(port: port, type: Int32(SOCK_STREAM.rawValue))
    }

    private static func canBind(port: Int, type: Int32) -> Bool {
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
