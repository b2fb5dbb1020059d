public import NIOCore
public import SIPSyntax

/// One item decoded from a SIP byte stream (RFC 3261 §18.3, RFC 5626 §3.5.1).
public enum SIPStreamItem: Sendable {
    /// A complete message framed by its Content-Length.
    case message(SIPMessage)
    /// A CRLFCRLF keep-alive ping; the transport answers with a single CRLF (RFC 5626 §3.5.1).
    case ping
    /// A CRLF keep-alive pong.
    case pong
    /// Bytes that do not form a valid message. Framing is lost, so the connection is closed after
    /// a 400 has been sent when the error allows one.
    case malformed(SIPParseError)
}

/// Frames SIP messages out of a TCP byte stream with ``SIPStreamFramer`` (RFC 3261 §18.3).
///
/// Every `decode` call hands the new bytes to the framer and fires all items it can complete, so
/// several pipelined messages in one read are all delivered. After a parse error the decoder fires
/// ``SIPStreamItem/malformed(_:)`` once and ignores the rest of the stream.
public struct SIPStreamDecoder: ByteToMessageDecoder {
    public typealias InboundOut = SIPStreamItem

    private var framer: SIPStreamFramer
    private var failed = false

    /// - Parameters:
    ///   - limits: Message size and header limits; a stream exceeding them is refused.
    ///   - role: `.accepted` for connections we accepted (we receive pings), `.initiated` for ours.
    public init(limits: SIPParser.Limits = SIPParser.Limits(), role: SIPStreamFramer.ConnectionRole = .accepted) {
        framer = SIPStreamFramer(limits: limits, role: role)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !failed else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        if let bytes = buffer.readSlice(length: buffer.readableBytes), bytes.readableBytes > 0 {
            framer.append(bytes)
        }
        do throws(SIPParseError) {
            while let event = try framer.next() {
                switch event {
                case .message(let message): context.fireChannelRead(wrapInboundOut(.message(message)))
                case .ping: context.fireChannelRead(wrapInboundOut(.ping))
                case .pong: context.fireChannelRead(wrapInboundOut(.pong))
                }
            }
        } catch {
            failed = true
            context.fireChannelRead(wrapInboundOut(.malformed(error)))
        }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
