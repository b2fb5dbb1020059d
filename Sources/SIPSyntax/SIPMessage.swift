public import NIOCore

/// A SIP request (RFC 3261 §7.1).
public struct SIPRequest: Hashable, Sendable {
    public var method: SIPMethod
    public var uri: SIPURI
    /// Protocol version from the request line; `SIP/2.0` for everything we build.
    public var version: String
    public var headers: SIPHeaders
    /// The message body, binary-safe (RFC 3261 §7.4).
    public var body: ByteBuffer

    public init(method: SIPMethod, uri: SIPURI, version: String = "SIP/2.0", headers: SIPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = body
    }
}

/// A SIP response (RFC 3261 §7.2).
public struct SIPResponse: Hashable, Sendable {
    public var version: String
    public var statusCode: Int
    public var reasonPhrase: String
    public var headers: SIPHeaders
    public var body: ByteBuffer

    public init(statusCode: Int, reasonPhrase: String? = nil, version: String = "SIP/2.0", headers: SIPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.version = version
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? SIPResponse.defaultReasonPhrase(for: statusCode)
        self.headers = headers
        self.body = body
    }

    /// 1xx (RFC 3261 §7.2).
    public var isProvisional: Bool { statusCode < 200 }
    /// 2xx..6xx.
    public var isFinal: Bool { statusCode >= 200 }
}

/// Either kind of SIP message.
public enum SIPMessage: Hashable, Sendable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let r): r.headers
        case .response(let r): r.headers
        }
    }

    /// The request, when this is one.
    public var request: SIPRequest? {
        if case .request(let r) = self { return r }
        return nil
    }

    /// The response, when this is one.
    public var response: SIPResponse? {
        if case .response(let r) = self { return r }
        return nil
    }
}
