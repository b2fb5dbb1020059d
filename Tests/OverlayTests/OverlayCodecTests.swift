import Overlay
import Testing

@Suite struct OverlayCodecTests {
    static let identity = NodeIdentity.generate()
    static let peerA = OverlayPeer(id: NodeID(high: 1, middle: 2, low: 3), address: "10.0.0.1:5060")
    static let peerB = OverlayPeer(id: NodeID(high: .max, middle: 7, low: 9), address: "sip:b@192.168.1.20:5070")
    static let record = ResourceRecord.signed(
        kind: .service, name: "service:energy/feeder-7/meter", value: Array("sip:m@10.0.0.9\n4".utf8),
        sequence: 300, expiry: OverlayInstant(milliseconds: 1_900_000_000_000), by: identity
    )

    static let messages: [OverlayMessage] = [
        .findRequest(id: 1, key: peerB.id, maintenance: true),
        .findResponse(id: 2, answer: .owner([peerA, peerB]), maintenance: false),
        .findResponse(id: 3, answer: .closer([peerB]), maintenance: true),
        .stabilizeRequest(id: 4),
        .stabilizeResponse(id: 5, predecessor: peerA, successors: [peerB, peerA]),
        .stabilizeResponse(id: 6, predecessor: nil, successors: []),
        .notify,
        .ping(id: 300),
        .pong(id: 1 << 40),
        .joinRequest(id: 8),
        .joinResponse(id: 9, predecessor: peerB, successors: [peerA], fingers: [peerB], records: [record]),
        .store(id: 10, records: [record], isReplica: false),
        .storeResponse(id: 11, status: .stored),
        .storeResponse(id: 12, status: .refused(.badSignature)),
        .storeResponse(id: 13, status: .notResponsible),
        .fetch(id: 14, resource: record.resourceID, kind: .service),
        .fetch(id: 15, resource: record.resourceID, kind: nil),
        .fetchResponse(id: 16, responsible: true, records: [record, record]),
        .leaving(predecessor: peerA, successors: [peerB], records: [record]),
    ]

    @Test(arguments: messages)
    func everyMessageRoundTripsAndReportsItsExactSize(message: OverlayMessage) throws {
        let envelope = OverlayEnvelope(sender: Self.peerA, message: message)
        let bytes = OverlayCodec.encode(envelope)
        #expect(bytes.count == envelope.encodedSize)
        #expect(try OverlayCodec.decode(bytes) == envelope)
    }

    @Test func decodedRecordStillVerifies() throws {
        let envelope = OverlayEnvelope(sender: Self.peerA, message: .store(id: 1, records: [Self.record], isReplica: true))
        guard case .store(_, let records, _) = try OverlayCodec.decode(OverlayCodec.encode(envelope)).message else {
            Issue.record("decoded to another message")
            return
        }
        try #require(records.count == 1)
        try records[0].verify(now: OverlayInstant(milliseconds: 0))
        #expect(records[0].owner == Self.identity.nodeID)
    }

    @Test func maintenanceMessagesAreCompact() {
        let stabilize = OverlayEnvelope(sender: Self.peerA, message: .stabilizeRequest(id: 77))
        #expect(stabilize.encodedSize < 40)
        let find = OverlayEnvelope(sender: Self.peerA, message: .findRequest(id: 77, key: Self.peerB.id, maintenance: true))
        #expect(find.encodedSize < 60)
    }

    @Test func everyTruncationIsRefusedAsMalformed() {
        let envelope = OverlayEnvelope(sender: Self.peerA, message: .joinResponse(id: 9, predecessor: Self.peerB, successors: [Self.peerA], fingers: [], records: [Self.record]))
        let bytes = OverlayCodec.encode(envelope)
        for length in 0..<bytes.count {
            #expect(throws: OverlayError(.malformedMessage, "")) { try OverlayCodec.decode(Array(bytes.prefix(length))) }
        }
    }

    @Test func hostileBytesNeverCrashTheDecoder() {
        var generator = SplitMix64(seed: 42)
        let valid = OverlayCodec.encode(OverlayEnvelope(sender: Self.peerA, message: .fetchResponse(id: 1, responsible: true, records: [Self.record])))
        for _ in 0..<2000 {
            var bytes = valid
            for _ in 0..<3 { bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? OverlayCodec.decode(bytes)
        }
        // Huge declared counts are refused before allocating.
        #expect(throws: OverlayError(.malformedMessage, "")) {
            try OverlayCodec.decode([1] + Self.peerA.id.bytes + [0, 14, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f])
        }
    }
}
