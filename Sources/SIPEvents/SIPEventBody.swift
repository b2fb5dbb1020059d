public import SIPSyntax
// The only use of NIOCore in SIPEvents: converting between message bodies (ByteBuffer in
// SIPSyntax's model) and the plain bytes this module stores and persists. No I/O.
internal import NIOCore

/// A piece of event state: a body and its media type (RFC 6665 §4.2.2, RFC 3903 §4.1).
///
/// Plain bytes so it can be saved and compared; ``SIPRequest/eventBody`` moves it in and out of
/// a message.
public struct SIPEventBody: Hashable, Sendable, Codable {
    /// Media type with parameters, e.g. `application/pidf+xml`.
    public var contentType: String
    public var bytes: [UInt8]

    public init(contentType: String, bytes: [UInt8]) {
        self.contentType = contentType
        self.bytes = bytes
    }

    /// A body from text, encoded as UTF-8.
    public init(contentType: String, text: String) {
        self.init(contentType: contentType, bytes: Array(text.utf8))
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The media type without parameters, lower-cased (`type/subtype`), for matching against
    /// `Accept` lists (RFC 3261 §20.1, §20.15).
    public var mediaType: String { SIPEventBody.mediaType(of: contentType) }

    /// `type/subtype` of a Content-Type value, lower-cased, parameters dropped.
    public static func mediaType(of contentType: String) -> String {
        let base = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return SIPEventHeaderGrammar.trim(base).lowercased()
    }

    /// Whether `contentType` is in `accepted` (exact `type/subtype`, `type/*` or `*/*`).
    public static func isAccepted(_ contentType: String, by accepted: [String]) -> Bool {
        let media = mediaType(of: contentType)
        let major = media.split(separator: "/").first.map(String.init) ?? media
        return accepted.contains { entry in
            let candidate = mediaType(of: entry)
            return candidate == media || candidate == "*/*" || candidate == "\(major)/*"
        }
    }
}

extension SIPRequest {
    /// The body with its Content-Type; `nil` when the request has no body. Setting it writes the
    /// body, Content-Type and Content-Length; setting `nil` removes all three.
    public var eventBody: SIPEventBody? {
        get { SIPEventBodyCoding.read(body, headers) }
        set { SIPEventBodyCoding.write(newValue, &body, &headers) }
    }
}

extension SIPResponse {
    /// The body with its Content-Type; `nil` when the response has no body (see
    /// ``SIPRequest/eventBody``).
    public var eventBody: SIPEventBody? {
        get { SIPEventBodyCoding.read(body, headers) }
        set { SIPEventBodyCoding.write(newValue, &body, &headers) }
    }
}

enum SIPEventBodyCoding {
    static func read(_ body: ByteBuffer, _ headers: SIPHeaders) -> SIPEventBody? {
        guard body.readableBytes > 0 else { return nil }
        return SIPEventBody(
            contentType: headers.contentType ?? "application/octet-stream",
            bytes: body.getBytes(at: body.readerIndex, length: body.readableBytes) ?? []
        )
    }

    static func write(_ value: SIPEventBody?, _ body: inout ByteBuffer, _ headers: inout SIPHeaders) {
        if let value {
            body = ByteBuffer(bytes: value.bytes)
            headers.contentType = value.contentType
            headers.contentLength = value.bytes.count
        } else {
            body = ByteBuffer()
            headers.contentType = nil
            headers.contentLength = 0
        }
    }
}
