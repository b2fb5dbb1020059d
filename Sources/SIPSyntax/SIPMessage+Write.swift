public import NIOCore

/// Serialisation (RFC 3261 §7): start line, `Name: value` header lines, a blank line and the body,
/// all with CRLF line ends. A correct Content-Length is always written: an existing Content-Length
/// field keeps its position and spelling (and its text, when that already states the body length);
/// otherwise one is appended after the other fields.
extension SIPRequest {
    /// Appends the wire form of this request to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 256 + headers.count * 48 + body.readableBytes)
        buffer.writeString(method.rawValue)
        buffer.writeInteger(SIPGrammar.space)
        buffer.writeString(uri.description)
        buffer.writeInteger(SIPGrammar.space)
        buffer.writeString(version)
        SIPWriter.writeCRLF(into: &buffer)
        SIPWriter.writeHeaders(headers, bodyLength: body.readableBytes, into: &buffer)
        buffer.writeImmutableBuffer(body)
    }

    /// The wire form of this request.
    public var serializedBytes: ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }
}

extension SIPResponse {
    /// Appends the wire form of this response to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 256 + headers.count * 48 + body.readableBytes)
        buffer.writeString(version)
        buffer.writeInteger(SIPGrammar.space)
        buffer.writeString(String(statusCode))
        buffer.writeInteger(SIPGrammar.space)
        SIPWriter.writeSanitized(reasonPhrase, into: &buffer)
        SIPWriter.writeCRLF(into: &buffer)
        SIPWriter.writeHeaders(headers, bodyLength: body.readableBytes, into: &buffer)
        buffer.writeImmutableBuffer(body)
    }

    /// The wire form of this response.
    public var serializedBytes: ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }
}

extension SIPMessage {
    /// Appends the wire form of this message to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .request(let request): request.write(into: &buffer)
        case .response(let response): response.write(into: &buffer)
        }
    }

    /// The wire form of this message.
    public var serializedBytes: ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }

    /// The message body.
    public var body: ByteBuffer {
        switch self {
        case .request(let r): r.body
        case .response(let r): r.body
        }
    }
}

enum SIPWriter {
    @inline(__always)
    static func writeCRLF(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(0x0D0A))
    }

    static func writeHeaders(_ headers: SIPHeaders, bodyLength: Int, into buffer: inout ByteBuffer) {
        var wroteLength = false
        for field in headers.fields {
            if field.canonicalName == "content-length" {
                if wroteLength { continue }
                wroteLength = true
                buffer.writeString(field.name)
                buffer.writeInteger(UInt16(0x3A20))  // ": "
                if SIPHeaders.integer(field.value) == bodyLength {
                    buffer.writeString(field.value)
                } else {
                    buffer.writeString(String(bodyLength))
                }
                writeCRLF(into: &buffer)
                continue
            }
            buffer.writeString(field.name)
            buffer.writeInteger(UInt16(0x3A20))
            writeSanitized(field.value, into: &buffer)
            writeCRLF(into: &buffer)
        }
        if !wroteLength {
            buffer.writeString("Content-Length: ")
            buffer.writeString(String(bodyLength))
            writeCRLF(into: &buffer)
        }
        writeCRLF(into: &buffer)
    }

    /// Writes `text`, replacing CR and LF by SP so a value can never end the header line early.
    static func writeSanitized(_ text: String, into buffer: inout ByteBuffer) {
        if text.utf8.contains(where: { $0 == SIPGrammar.cr || $0 == SIPGrammar.lf }) {
            buffer.writeBytes(text.utf8.map { $0 == SIPGrammar.cr || $0 == SIPGrammar.lf ? SIPGrammar.space : $0 })
        } else {
            buffer.writeString(text)
        }
    }
}
