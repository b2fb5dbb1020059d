/// The compact binary encoding of overlay messages (to be carried in SIP bodies).
///
/// Layout: version byte, sender (20-byte Node-ID + length-prefixed address), message tag,
/// then the fields; integers are LEB128 varints, lists are count-prefixed. Decoding checks
/// every length against a limit, so hostile input yields ``OverlayError/Code/malformedMessage``.
public enum OverlayCodec {
    /// The encoding version written first.
    public static let version: UInt8 = 1
    /// The most peers a list may hold on the wire.
    static let maximumPeers = 64
    /// The most records a message may hold on the wire.
    static let maximumRecords = 4096

    /// Encodes an envelope.
    public static func encode(_ envelope: OverlayEnvelope) -> [UInt8] {
        var buffer: [UInt8] = []
        envelope.write(to: &buffer)
        return buffer
    }

    /// The encoded size of an envelope in bytes, without building the bytes.
    public static func encodedSize(of envelope: OverlayEnvelope) -> Int {
        var counter = OverlayByteCounter()
        envelope.write(to: &counter)
        return counter.count
    }

    /// Decodes an envelope.
    /// - Throws: ``OverlayError`` with code `.malformedMessage` saying where the bytes went wrong.
    public static func decode(_ bytes: [UInt8]) throws(OverlayError) -> OverlayEnvelope {
        var reader = OverlayByteReader(bytes)
        let version = try reader.readByte()
        guard version == Self.version else {
            throw OverlayError(.malformedMessage, "unknown overlay encoding version \(version)")
        }
        let sender = try readPeer(&reader)
        let message = try readMessage(&reader)
        guard reader.isAtEnd else {
            throw OverlayError(.malformedMessage, "\(bytes.count - reader.offset) trailing bytes after the message")
        }
        return OverlayEnvelope(sender: sender, message: message)
    }

    private enum Tag: UInt8 {
        case findRequest = 1, findResponseOwner, findResponseCloser, stabilizeRequest, stabilizeResponse
        case notify, ping, pong, joinRequest, joinResponse, store, storeResponse, fetch, fetchResponse, leaving
    }

    static func readPeer(_ reader: inout OverlayByteReader) throws(OverlayError) -> OverlayPeer {
        let id = try reader.readID()
        let address = try reader.readString(limit: 512)
        return OverlayPeer(id: id, address: OverlayAddress(address))
    }

    static func readPeers(_ reader: inout OverlayByteReader) throws(OverlayError) -> [OverlayPeer] {
        let count = try reader.readCount(limit: maximumPeers)
        var peers: [OverlayPeer] = []
        peers.reserveCapacity(count)
        for _ in 0..<count { peers.append(try readPeer(&reader)) }
        return peers
    }

    static func readOptionalPeer(_ reader: inout OverlayByteReader) throws(OverlayError) -> OverlayPeer? {
        try reader.readByte() == 0 ? nil : try readPeer(&reader)
    }

    static func readRecords(_ reader: inout OverlayByteReader) throws(OverlayError) -> [ResourceRecord] {
        let count = try reader.readCount(limit: maximumRecords)
        var records: [ResourceRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count { records.append(try ResourceRecord.read(from: &reader)) }
        return records
    }

    static func readBool(_ reader: inout OverlayByteReader) throws(OverlayError) -> Bool {
        switch try reader.readByte() {
        case 0: return false
        case 1: return true
        case let other: throw OverlayError(.malformedMessage, "flag byte \(other) is neither 0 nor 1 at byte \(reader.offset)")
        }
    }

    static func readMessage(_ reader: inout OverlayByteReader) throws(OverlayError) -> OverlayMessage {
        let rawTag = try reader.readByte()
        guard let tag = Tag(rawValue: rawTag) else { throw OverlayError(.malformedMessage, "unknown message tag \(rawTag)") }
        switch tag {
        case .findRequest:
            return .findRequest(id: try reader.readVarint(), key: try reader.readID(), maintenance: try readBool(&reader))
        case .findResponseOwner:
            return .findResponse(id: try reader.readVarint(), answer: .owner(try readPeers(&reader)), maintenance: try readBool(&reader))
        case .findResponseCloser:
            return .findResponse(id: try reader.readVarint(), answer: .closer(try readPeers(&reader)), maintenance: try readBool(&reader))
        case .stabilizeRequest:
            return .stabilizeRequest(id: try reader.readVarint())
        case .stabilizeResponse:
            return .stabilizeResponse(id: try reader.readVarint(), predecessor: try readOptionalPeer(&reader), successors: try readPeers(&reader))
        case .notify:
            return .notify
        case .ping:
            return .ping(id: try reader.readVarint())
        case .pong:
            return .pong(id: try reader.readVarint())
        case .joinRequest:
            return .joinRequest(id: try reader.readVarint())
        case .joinResponse:
            return .joinResponse(
                id: try reader.readVarint(), predecessor: try readOptionalPeer(&reader), successors: try readPeers(&reader),
                fingers: try readPeers(&reader), records: try readRecords(&reader)
            )
        case .store:
            return .store(id: try reader.readVarint(), records: try readRecords(&reader), isReplica: try readBool(&reader))
        case .storeResponse:
            let id = try reader.readVarint()
            let status: OverlayStoreStatus
            switch try reader.readByte() {
            case 0: status = .stored
            case 1: status = .notResponsible
            case 2:
                let code = try reader.readByte()
                guard let refused = OverlayError.Code(rawValue: code) else {
                    throw OverlayError(.malformedMessage, "unknown store refusal code \(code)")
                }
                status = .refused(refused)
            case let other:
                throw OverlayError(.malformedMessage, "unknown store status \(other)")
            }
            return .storeResponse(id: id, status: status)
        case .fetch:
            let id = try reader.readVarint()
            let resource = ResourceID(id: try reader.readID())
            let rawKind = try reader.readByte()
            let kind: ResourceRecord.Kind?
            if rawKind == 0 {
                kind = nil
            } else {
                guard let known = ResourceRecord.Kind(rawValue: rawKind) else {
                    throw OverlayError(.malformedMessage, "unknown record kind \(rawKind) in fetch")
                }
                kind = known
            }
            return .fetch(id: id, resource: resource, kind: kind)
        case .fetchResponse:
            return .fetchResponse(id: try reader.readVarint(), responsible: try readBool(&reader), records: try readRecords(&reader))
        case .leaving:
            return .leaving(predecessor: try readOptionalPeer(&reader), successors: try readPeers(&reader), records: try readRecords(&reader))
        }
    }
}

extension OverlayPeer {
    func write(to sink: inout some OverlayByteSink) {
        sink.write(id: id)
        sink.write(string: address.value)
    }
}

extension OverlayByteSink {
    mutating func write(peers: [OverlayPeer]) {
        write(varint: UInt64(peers.count))
        for peer in peers { peer.write(to: &self) }
    }

    mutating func write(optionalPeer: OverlayPeer?) {
        if let optionalPeer {
            write(byte: 1)
            optionalPeer.write(to: &self)
        } else {
            write(byte: 0)
        }
    }

    mutating func write(records: [ResourceRecord]) {
        write(varint: UInt64(records.count))
        for record in records { record.write(to: &self) }
    }

    mutating func write(flag: Bool) { write(byte: flag ? 1 : 0) }
}

extension OverlayEnvelope {
    /// The encoded size in bytes (see ``OverlayCodec``).
    public var encodedSize: Int { OverlayCodec.encodedSize(of: self) }

    func write(to sink: inout some OverlayByteSink) {
        sink.write(byte: OverlayCodec.version)
        sender.write(to: &sink)
        switch message {
        case .findRequest(let id, let key, let maintenance):
            sink.write(byte: 1)
            sink.write(varint: id)
            sink.write(id: key)
            sink.write(flag: maintenance)
        case .findResponse(let id, let answer, let maintenance):
            switch answer {
            case .owner(let peers):
                sink.write(byte: 2)
                sink.write(varint: id)
                sink.write(peers: peers)
            case .closer(let peers):
                sink.write(byte: 3)
                sink.write(varint: id)
                sink.write(peers: peers)
            }
            sink.write(flag: maintenance)
        case .stabilizeRequest(let id):
            sink.write(byte: 4)
            sink.write(varint: id)
        case .stabilizeResponse(let id, let predecessor, let successors):
            sink.write(byte: 5)
            sink.write(varint: id)
            sink.write(optionalPeer: predecessor)
            sink.write(peers: successors)
        case .notify:
            sink.write(byte: 6)
        case .ping(let id):
            sink.write(byte: 7)
            sink.write(varint: id)
        case .pong(let id):
            sink.write(byte: 8)
            sink.write(varint: id)
        case .joinRequest(let id):
            sink.write(byte: 9)
            sink.write(varint: id)
        case .joinResponse(let id, let predecessor, let successors, let fingers, let records):
            sink.write(byte: 10)
            sink.write(varint: id)
            sink.write(optionalPeer: predecessor)
            sink.write(peers: successors)
            sink.write(peers: fingers)
            sink.write(records: records)
        case .store(let id, let records, let isReplica):
            sink.write(byte: 11)
            sink.write(varint: id)
            sink.write(records: records)
            sink.write(flag: isReplica)
        case .storeResponse(let id, let status):
            sink.write(byte: 12)
            sink.write(varint: id)
            switch status {
            case .stored: sink.write(byte: 0)
            case .notResponsible: sink.write(byte: 1)
            case .refused(let code):
                sink.write(byte: 2)
                sink.write(byte: code.rawValue)
            }
        case .fetch(let id, let resource, let kind):
            sink.write(byte: 13)
            sink.write(varint: id)
            sink.write(id: resource.id)
            sink.write(byte: kind?.rawValue ?? 0)
        case .fetchResponse(let id, let responsible, let records):
            sink.write(byte: 14)
            sink.write(varint: id)
            sink.write(flag: responsible)
            sink.write(records: records)
        case .leaving(let predecessor, let successors, let records):
            sink.write(byte: 15)
            sink.write(optionalPeer: predecessor)
            sink.write(peers: successors)
            sink.write(records: records)
        }
    }
}
