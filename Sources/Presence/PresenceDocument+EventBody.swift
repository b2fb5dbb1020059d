public import SIPEvents

extension PresenceDocument {
    /// The document as an `application/pidf+xml` event body for NOTIFY or PUBLISH (RFC 3856 §6.2).
    ///
    /// - Throws: ``PresenceError`` as ``encoded()`` does.
    public func eventBody() throws(PresenceError) -> SIPEventBody {
        SIPEventBody(contentType: Self.contentType, text: try encoded())
    }

    /// Reads an event body (RFC 3856 §6.2).
    ///
    /// - Throws: ``PresenceError`` with code ``PresenceError/Code/notPIDF`` when the body's media type
    ///   is not `application/pidf+xml`, otherwise as ``init(decoding:)-([UInt8])`` does.
    public init(eventBody body: SIPEventBody) throws(PresenceError) {
        guard body.mediaType == Self.contentType else {
            throw PresenceError(.notPIDF, "the body is \(body.mediaType), expected \(Self.contentType)")
        }
        try self.init(decoding: body.bytes)
    }
}
