import Foundation
import NIOCore
import SIPSyntax
import Testing

/// Loads the RFC 4475 messages stored byte-exact under `Torture/`.
enum Torture {
    /// The valid messages of RFC 4475 §3.1.1, §3.2, §3.3 and §3.4 that a parser must accept.
    static let valid = [
        "wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq", "semiuri", "transports",
        "mpart01", "unreason", "noreason", "badbranch", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01",
        "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
    ]

    static func bytes(_ name: String) throws -> ByteBuffer {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "dat", subdirectory: "Torture"),
            "torture message \(name).dat is missing")
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    static func parse(_ name: String) throws -> SIPMessage {
        try SIPParser().parse(datagram: bytes(name))
    }

    static func request(_ name: String) throws -> SIPRequest {
        try #require(parse(name).request)
    }

    static func response(_ name: String) throws -> SIPResponse {
        try #require(parse(name).response)
    }

    /// The parse error for a message that must be rejected.
    static func error(_ name: String) throws -> SIPParseError {
        let input = try bytes(name)
        do {
            let message = try SIPParser().parse(datagram: input)
            Issue.record("\(name) parsed but must be rejected: \(message)")
            throw CancellationError()
        } catch let error as SIPParseError {
            return error
        }
    }
}
