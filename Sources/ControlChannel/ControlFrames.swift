import Foundation
import NIOCore

/// One request from a client: `{"id":1,"command":"node.status","args":{…}}` followed by a newline.
///
/// `id` is chosen by the client and unique among its requests in progress on the connection; `args` may be
/// omitted and then counts as `{}`.
struct ControlRequestFrame: Hashable, Sendable {
    var id: Int
    var command: String
    var args: ControlValue
}

/// One frame from the node, answering the request `id`.
///
/// - `{"id":1,"ok":true,"result":…}`: a command's result (ends the request).
/// - `{"id":1,"ok":false,"error":{"code":…,"message":…}}`: a failure (ends the request or stream); `id` is null when
///   the request could not be read far enough to know its id.
/// - `{"id":1,"event":…}`: one item of a streaming command.
/// - `{"id":1,"end":true}`: a streaming command finished normally.
enum ControlResponseFrame: Hashable, Sendable {
    case result(id: Int, ControlValue)
    case failure(id: Int?, ControlError)
    case event(id: Int, ControlValue)
    case end(id: Int)

    var id: Int? {
        switch self {
        case .result(let id, _), .event(let id, _), .end(let id): id
        case .failure(let id, _): id
        }
    }
}

// MARK: - JSON form

enum ControlFrameCoding {
    /// A line read as a request, or the answer that rejects it (with the id when it could be read).
    enum DecodedRequest {
        case request(ControlRequestFrame)
        case rejected(ControlResponseFrame)
    }

    /// Reads one line as a request.
    static func decodeRequest(_ line: ByteBuffer) -> DecodedRequest {
        let value: ControlValue
        do {
            value = try JSONDecoder().decode(ControlValue.self, from: Data(line.readableBytesView))
        } catch {
            return .rejected(.failure(id: nil, ControlError(.malformedFrame, "frame is not valid JSON: \(describe(error))")))
        }
        guard case .object(let members) = value else {
            return .rejected(.failure(id: nil, ControlError(.malformedFrame, "frame must be a JSON object with 'id' and 'command'")))
        }
        guard let id = members["id"]?.intValue else {
            return .rejected(.failure(id: nil, ControlError(.malformedFrame, "frame needs an integer 'id'")))
        }
        guard let command = members["command"]?.stringValue, !command.isEmpty else {
            return .rejected(.failure(id: id, ControlError(.malformedFrame, "frame needs a non-empty string 'command'")))
        }
        let args = members["args"] ?? .object([:])
        return .request(ControlRequestFrame(id: id, command: command, args: args.isNull ? .object([:]) : args))
    }

    /// Reads one line from the node; nil when it is not one of the four response shapes.
    static func decodeResponse(_ line: ByteBuffer) -> ControlResponseFrame? {
        guard let value = try? JSONDecoder().decode(ControlValue.self, from: Data(line.readableBytesView)),
            case .object(let members) = value
        else { return nil }
        let id = members["id"]?.intValue
        if let ok = members["ok"]?.boolValue {
            if ok, let id { return .result(id: id, members["result"] ?? .null) }
            guard !ok, let error = members["error"] else { return nil }
            let code = error["code"]?.stringValue ?? ControlError.Code.protocolViolation.rawValue
            let message = error["message"]?.stringValue ?? "the node answered with an error without a message"
            return .failure(id: id, ControlError(ControlError.Code(code), message))
        }
        guard let id else { return nil }
        if let event = members["event"] { return .event(id: id, event) }
        if members["end"]?.boolValue == true { return .end(id: id) }
        return nil
    }

    /// The newline-terminated JSON text of a request: `{"id":1,"command":"…","args":{…}}`.
    static func encode(_ request: ControlRequestFrame) throws(ControlError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("{\"id\":\(request.id),\"command\":")
        try write(.string(request.command), to: &buffer)
        buffer.writeString(",\"args\":")
        try write(request.args, to: &buffer)
        buffer.writeString("}\n")
        return buffer
    }

    /// The newline-terminated JSON text of a response, `id` first; a value that cannot be written as JSON
    /// (NaN, ±∞) becomes an `internal` error for the same id, so the client is always answered.
    static func encode(_ response: ControlResponseFrame) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("{\"id\":\(response.id.map(String.init) ?? "null"),")
        let prefixLength = buffer.writerIndex
        do {
            switch response {
            case .result(_, let result):
                buffer.writeString("\"ok\":true,\"result\":")
                try write(result, to: &buffer)
            case .failure(_, let error):
                try writeError(error, to: &buffer)
            case .event(_, let event):
                buffer.writeString("\"event\":")
                try write(event, to: &buffer)
            case .end:
                buffer.writeString("\"end\":true")
            }
        } catch {
            buffer.moveWriterIndex(to: prefixLength)
            try? writeError(error, to: &buffer)
        }
        buffer.writeString("}\n")
        return buffer
    }

    private static func writeError(_ error: ControlError, to buffer: inout ByteBuffer) throws(ControlError) {
        buffer.writeString("\"ok\":false,\"error\":")
        try write(["code": .string(error.code.rawValue), "message": .string(error.message)], to: &buffer)
    }

    /// Appends the compact JSON text of `value` (object keys sorted, so output is stable).
    private static func write(_ value: ControlValue, to buffer: inout ByteBuffer) throws(ControlError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            buffer.writeBytes(try encoder.encode(value))
        } catch {
            throw ControlError(.internalError, "the result cannot be written as JSON (\(describe(error)))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            if let underlying = context.underlyingError { return "\(context.debugDescription) \(underlying)" }
            return context.debugDescription
        case EncodingError.invalidValue(_, let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

// MARK: - Line framing

/// One inbound unit of the newline-delimited stream.
enum ControlInboundLine: Sendable {
    /// A complete line without its terminator (a trailing CR is removed too).
    case line(ByteBuffer)
    /// A line longer than the limit began; its bytes are discarded up to the next newline.
    case tooLong
}

/// Splits a byte stream into newline-terminated lines of at most `maximumLength` bytes.
///
/// A longer line yields ``ControlInboundLine/tooLong`` once, as soon as the limit is passed, and is skipped up to
/// its newline, so one oversized frame neither buffers without bound nor ends the connection. Empty lines are
/// ignored (a client may send bare newlines as keep-alives).
struct ControlLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ControlInboundLine

    let maximumLength: Int
    /// Bytes after the reader index already known to contain no newline.
    private var scanned = 0
    /// Skipping the rest of an oversized line.
    private var discarding = false

    init(maximumLength: Int) {
        self.maximumLength = maximumLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch nextLine(&buffer) {
        case .some(let line):
            context.fireChannelRead(wrapInboundOut(line))
            return .continue
        case .none:
            return .needMoreData
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let line = nextLine(&buffer) { context.fireChannelRead(wrapInboundOut(line)) }
        // An unterminated last line cannot be answered: the peer has gone.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// The next complete (or oversized) line, consuming it; nil when more bytes are needed.
    mutating func nextLine(_ buffer: inout ByteBuffer) -> ControlInboundLine? {
        while true {
            let view = buffer.readableBytesView
            let searchStart = view.startIndex + scanned
            guard let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) else {
                if discarding {
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    scanned = 0
                    return nil
                }
                if view.count > maximumLength {
                    discarding = true
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    scanned = 0
                    return .tooLong
                }
                scanned = view.count
                return nil
            }
            let length = newline - view.startIndex
            scanned = 0
            if discarding {
                buffer.moveReaderIndex(forwardBy: length + 1)
                discarding = false
                continue
            }
            if length > maximumLength {
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .tooLong
            }
            guard var line = buffer.readSlice(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if line.readableBytes == 0 { continue }
            return .line(line)
        }
    }
}
