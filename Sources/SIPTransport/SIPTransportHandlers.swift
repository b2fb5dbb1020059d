import Logging
import NIOCore
import SIPSyntax

/// Inbound handler of a UDP socket: hands each datagram to the engine (RFC 3261 §18.2.1).
///
/// Socket errors (e.g. ICMP port unreachable reported as ECONNREFUSED) are logged and never close the
/// listener.
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let engine: SIPTransportEngine

    init(engine: SIPTransportEngine) { self.engine = engine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        engine.datagramReceived(envelope.data, from: envelope.remoteAddress, on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        engine.logger.debug("UDP socket error ignored", metadata: ["sip.error": "\(error)"])
    }
}

/// Inbound handler of a TCP connection, behind ``SIPStreamDecoder`` (RFC 3261 §18.3, RFC 5626 §3.5.1).
final class SIPStreamHandler: ChannelInboundHandler {
    typealias InboundIn = SIPStreamItem
    typealias OutboundOut = ByteBuffer

    private let engine: SIPTransportEngine

    init(engine: SIPTransportEngine) { self.engine = engine }

    func channelActive(context: ChannelHandlerContext) {
        engine.connectionOpened(context.channel)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { engine.connectionOpened(context.channel) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        engine.connectionClosed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .message(let message):
            engine.streamMessageReceived(message, on: context.channel)
        case .ping:
            // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a single CRLF pong.
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\r\n")), promise: nil)
        case .pong:
            break
        case .malformed(let error):
            engine.malformedStream(error, on: context.channel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        engine.logger.debug("TCP connection error, closing", metadata: ["sip.error": "\(error)"])
        context.close(promise: nil)
    }
}
