import NIOCore
import NIOEmbedded
import SIPSyntax
import Foundation
import Logging
import Testing
@testable import SIPTransport

@Suite struct SIPStreamDecoderTests {
    private static let options =
        "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"
        + "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 5\r\n\r\nhello"
    private static let response =
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK2\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
        + "To: <sip:ping@127.0.0.1>;tag=2\r\nCall-ID: c2\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n"

    private func makeChannel(_ role: SIPStreamFramer.ConnectionRole = .accepted) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SIPStreamDecoder(role: role)))
        return channel
    }

    private func readItems(_ channel: EmbeddedChannel) throws -> [SIPStreamItem] {
        var items: [SIPStreamItem] = []
        while let item = try channel.readInbound(as: SIPStreamItem.self) { items.append(item) }
        return items
    }

    private func describe(_ items: [SIPStreamItem]) -> [String] {
        items.map { item in
            switch item {
            case .message(.request(let request)): "request \(request.method) \(request.headers.callID ?? "") body=\(String(buffer: request.body))"
            case .message(.response(let response)): "response \(response.statusCode) \(response.headers.callID ?? "")"
            case .ping: "ping"
            case .pong: "pong"
            case .malformed(let error): "malformed \(error.reason)"
            }
        }
    }

    private var expected: [String] { ["request OPTIONS c1 body=hello", "ping", "response 200 c2"] }
    private var input: String { Self.options + "\r\n\r\n" + Self.response }

    @Test func decodesMessagesAndPingFedByteByByte() throws {
        let channel = try makeChannel()
        var items: [SIPStreamItem] = []
        for byte in input.utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            items += try readItems(channel)
        }
        #expect(describe(items) == expected)
        #expect(try channel.finish().isClean)
    }

    @Test func decodesPipelinedMessagesDeliveredAllAtOnce() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: input))
        #expect(describe(try readItems(channel)) == expected)
    }

    @Test func decodesMessagesDeliveredOneAtATime() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: Self.options))
        #expect(describe(try readItems(channel)) == ["request OPTIONS c1 body=hello"])
        try channel.writeInbound(ByteBuffer(string: "\r\n\r\n"))
        #expect(describe(try readItems(channel)) == ["ping"])
        try channel.writeInbound(ByteBuffer(string: Self.response))
        #expect(describe(try readItems(channel)) == ["response 200 c2"])
    }

    @Test func loneCRLFOnAnInitiatedConnectionIsAPong() throws {
        let channel = try makeChannel(.initiated)
        try channel.writeInbound(ByteBuffer(string: "\r\n"))
        #expect(describe(try readItems(channel)) == ["pong"])
    }

    @Test func missingContentLengthIsMalformedOnceAndTheRestIgnored() throws {
        let channel = try makeChannel()
        let noLength = Self.options.replacingOccurrences(of: "Content-Length: 5\r\n", with: "")
        try channel.writeInbound(ByteBuffer(string: noLength))
        let items = try readItems(channel)
        #expect(items.count == 1)
        guard case .malformed(let error) = items.first else {
            Issue.record("expected a malformed item, got \(describe(items))")
            return
        }
        #expect(error.reason.contains("Content-Length"))
        try channel.writeInbound(ByteBuffer(string: Self.options))
        #expect(try readItems(channel).isEmpty)
    }

    @Test func streamHandlerAnswersPingWithCRLF() throws {
        let channel = EmbeddedChannel()
        let engine = SIPTransportEngine(eventLoop: channel.eventLoop, configuration: SIPTransportConfiguration(), handler: SIPUserAgentCore(), logger: .init(label: "test"))
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SIPStreamDecoder()))
        try channel.pipeline.syncOperations.addHandler(SIPStreamHandler(engine: engine))
        try channel.writeInbound(ByteBuffer(string: "\r\n\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "\r\n"))
        try channel.writeInbound(ByteBuffer(string: "\r\n\r\n\r\n\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }
}
