public import NIOCore

/// What a stream transport receives: a message, or a keep-alive (RFC 5626 §3.5.1, §4.4.1).
public enum SIPStreamEvent: Hashable, Sendable {
    case message(SIPMessage)
    /// A CRLF CRLF keep-alive ping; the transport answers it with a single CRLF.
    case ping
    /// A lone CRLF: the answer to a ping. Stray CRLFs before a message (RFC 3261 §7.5) also read
    /// as pongs; a transport that sent no ping ignores them.
    case pong
}

/// Splits a byte stream (TCP, TLS) into SIP messages using Content-Length (RFC 3261 §18.3).
///
/// Feed received bytes with ``append(_:)`` and call ``next()`` until it returns `nil`. Content-Length
/// is mandatory on streams. After ``next()`` throws, framing is lost: answer the error if
/// ``SIPParseError/badRequestResponse()`` allows it, then close the connection.
public struct SIPStreamFramer: Sendable {
    /// Which end of the connection this framer reads for; decides how a CRLF that is not yet
    /// followed by anything is read.
    public enum ConnectionRole: Hashable, Sendable {
        /// We accepted the connection: we receive pings, so a CRLF waits to see if a second follows.
        case accepted
        /// We opened the connection and send pings: a lone CRLF is the pong, reported at once.
        case initiated
    }

    private var buffer: ByteBuffer
    private let parser: SIPParser
    private let role: ConnectionRole
    /// Where to resume the search for the end of the header section.
    private var scanOffset = 0
    /// A parsed head waiting for its body.
    private var pending: (head: SIPParser.Head, headLength: Int, bodyLength: Int)?
    private var failure: SIPParseError?

    public init(limits: SIPParser.Limits = SIPParser.Limits(), role: ConnectionRole = .accepted) {
        self.buffer = ByteBuffer()
        self.parser = SIPParser(limits: limits)
        self.role = role
    }

    /// Number of received bytes not yet returned as events.
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Adds received bytes.
    public mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    /// The next complete event, or `nil` when more bytes are needed.
    public mutating func next() throws(SIPParseError) -> SIPStreamEvent? {
        if let failure { throw failure }
        do {
            return try nextEvent()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func nextEvent() throws(SIPParseError) -> SIPStreamEvent? {
        while true {
            if let (head, headLength, bodyLength) = pending {
                guard buffer.readableBytes >= headLength + bodyLength else { return nil }
                buffer.moveReaderIndex(forwardBy: headLength)
                // A copy, not a slice: a slice would keep the framer's buffer from being compacted in place
                // and keep it alive as long as the message (see SIPParser.body(copying:at:length:)).
                let body = SIPParser.body(copying: buffer, at: buffer.readerIndex, length: bodyLength)
                buffer.moveReaderIndex(forwardBy: bodyLength)
                pending = nil
                scanOffset = 0
                compact()
                return .message(head.message(body: body))
            }
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            if first == SIPGrammar.cr || first == SIPGrammar.lf {
                guard let event = keepAlive() else { return nil }
                if let event { return event }
                continue
            }
            guard let headLength = findHeaderEnd() else {
                if buffer.readableBytes > parser.limits.maxMessageBytes {
                    throw SIPParseError(kind: .messageTooLarge, reason: "Message Too Large", statusCode: 513)
                }
                return nil
            }
            guard headLength <= parser.limits.maxMessageBytes else {
                throw SIPParseError(kind: .messageTooLarge, reason: "Message Too Large", statusCode: 513)
            }
            let parser = self.parser
            let parsed: Result<SIPParser.Head?, SIPParseError> = buffer.withUnsafeReadableBytes { raw in
                let bytes = UnsafeBufferPointer(
                    start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: Swift.min(headLength, raw.count))
                do throws(SIPParseError) {
                    return .success(try parser.parseHead(bytes[...]))
                } catch {
                    return .failure(error)
                }
            }
            guard let head = try parsed.get() else {
                throw SIPParseError(kind: .truncated, reason: "Bad Request - Malformed header section")
            }
            guard let length = head.contentLength else {
                throw SIPParseError(kind: .missingContentLength, reason: "Bad Request - Missing Content-Length")
                    .with(recovered: head.recovered)
            }
            guard length <= parser.limits.maxStreamBodyBytes else {
                throw SIPParseError(kind: .messageTooLarge, reason: "Message Too Large", statusCode: 513)
                    .with(recovered: head.recovered)
            }
            pending = (head, head.bodyStart, length)
        }
    }

    /// Reads CRLF keep-alives at the front of the buffer. Returns `nil` when more bytes are needed,
    /// `.some(nil)` when bytes were skipped and framing should continue.
    private mutating func keepAlive() -> SIPStreamEvent?? {
        let available = buffer.readableBytes
        let at = buffer.readerIndex
        func byte(_ offset: Int) -> UInt8? {
            offset < available ? buffer.getInteger(at: at + offset, as: UInt8.self) : nil
        }
        scanOffset = 0
        guard let b0 = byte(0) else { return nil }
        if b0 == SIPGrammar.lf {
            // A bare LF is not a keep-alive; skip it.
            buffer.moveReaderIndex(forwardBy: 1)
            return .some(nil)
        }
        guard let b1 = byte(1) else { return nil }
        guard b1 == SIPGrammar.lf else {
            buffer.moveReaderIndex(forwardBy: 1)
            return .some(nil)
        }
        guard let b2 = byte(2) else {
            if role == .initiated {
                buffer.moveReaderIndex(forwardBy: 2)
                compact()
                return .some(.pong)
            }
            return nil
        }
        if b2 == SIPGrammar.cr {
            guard let b3 = byte(3) else { return nil }
            if b3 == SIPGrammar.lf {
                buffer.moveReaderIndex(forwardBy: 4)
                compact()
                return .some(.ping)
            }
        }
        buffer.moveReaderIndex(forwardBy: 2)
        return .some(.pong)
    }

    /// Length of the header section (through the blank line) at the front of the buffer, or `nil`.
    private mutating func findHeaderEnd() -> Int? {
        let length = buffer.readableBytes
        let start = Swift.max(0, scanOffset - 3)
        let found: Int? = buffer.withUnsafeReadableBytes { raw -> Int? in
            var i = start
            while i < length {
                if raw[i] == SIPGrammar.lf {
                    if i + 1 < length && raw[i + 1] == SIPGrammar.lf { return i + 2 }
                    if i + 2 < length && raw[i + 1] == SIPGrammar.cr && raw[i + 2] == SIPGrammar.lf { return i + 3 }
                }
                i += 1
            }
            return nil
        }
        scanOffset = length
        return found
    }

    private mutating func compact() {
        if buffer.readableBytes == 0 || buffer.readerIndex > 65_536 {
            buffer.discardReadBytes()
        }
    }
}
