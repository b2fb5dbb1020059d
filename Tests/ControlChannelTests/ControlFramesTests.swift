import Foundation
import NIOCore
import Testing

@testable import ControlChannel

@Suite struct ControlLineDecoderTests {
    /// Feeds `chunks` one after another and collects what the decoder yields.
    private func lines(_ chunks: [String], maximumLength: Int = 64) -> [String] {
        var decoder = ControlLineDecoder(maximumLength: maximumLength)
        var buffer = ByteBuffer()
        var output: [String] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let unit = decoder.nextLine(&buffer) {
                switch unit {
                case .line(let line): output.append(String(buffer: line))
                case .tooLong: output.append("<too long>")
                }
            }
        }
        return output
    }

    @Test func splitsLinesAcrossChunkBoundaries() {
        #expect(lines(["{\"a\":", "1}\n{\"b\"", ":2}\n{\"c\":3}"]) == ["{\"a\":1}", "{\"b\":2}"])
    }

    @Test func byteByByteGivesTheSameLinesAsAllAtOnce() {
        let text = "one\ntwo\r\n\nthree\n"
        #expect(lines(text.map { String($0) }) == ["one", "two", "three"])
        #expect(lines([text]) == ["one", "two", "three"])
    }

    @Test func stripsCarriageReturnAndSkipsEmptyLines() {
        #expect(lines(["\n\r\nping\r\n\n"]) == ["ping"])
    }

    @Test func reportsAnOversizedLineOnceAndRecoversAtTheNextNewline() {
        let long = String(repeating: "x", count: 200)
        #expect(lines([long + "\nok\n"]) == ["<too long>", "ok"])
    }

    @Test func reportsAnOversizedLineBeforeItsNewlineArrivesWithoutBufferingIt() {
        var decoder = ControlLineDecoder(maximumLength: 64)
        var buffer = ByteBuffer(string: String(repeating: "x", count: 100))
        guard case .tooLong = decoder.nextLine(&buffer) else {
            Issue.record("expected tooLong")
            return
        }
        #expect(buffer.readableBytes == 0)
        buffer.writeString(String(repeating: "y", count: 1000))
        #expect(decoder.nextLine(&buffer) == nil)
        #expect(buffer.readableBytes == 0)
        buffer.writeString("tail\nnext\n")
        guard case .line(let line) = decoder.nextLine(&buffer) else {
            Issue.record("expected the line after the oversized one")
            return
        }
        #expect(String(buffer: line) == "next")
    }

    @Test func acceptsALineOfExactlyTheMaximumLength() {
        let exact = String(repeating: "z", count: 64)
        #expect(lines([exact + "\n"]) == [exact])
        #expect(lines([exact + "z\n"]) == ["<too long>"])
    }
}

@Suite struct ControlFrameCodingTests {
    private func request(_ text: String) -> ControlFrameCoding.DecodedRequest {
        ControlFrameCoding.decodeRequest(ByteBuffer(string: text))
    }

    @Test func readsARequestAndDefaultsMissingArgsToAnEmptyObject() {
        guard case .request(let frame) = request(#"{"id":7,"command":"node.status"}"#) else {
            Issue.record("not read as a request")
            return
        }
        #expect(frame == ControlRequestFrame(id: 7, command: "node.status", args: [:]))
    }

    @Test(arguments: [
        ("not json", nil as Int?, "frame is not valid JSON"),
        ("[1,2]", nil, "frame must be a JSON object"),
        (#"{"command":"x"}"#, nil, "frame needs an integer 'id'"),
        (#"{"id":"1","command":"x"}"#, nil, "frame needs an integer 'id'"),
        (#"{"id":1.5,"command":"x"}"#, nil, "frame needs an integer 'id'"),
        (#"{"id":3}"#, 3, "frame needs a non-empty string 'command'"),
        (#"{"id":3,"command":""}"#, 3, "frame needs a non-empty string 'command'"),
    ])
    func rejectsMalformedRequestsWithAnAnswer(text: String, id: Int?, message: String) {
        guard case .rejected(.failure(let answeredID, let error)) = request(text) else {
            Issue.record("\(text) was not rejected")
            return
        }
        #expect(answeredID == id)
        #expect(error.code == .malformedFrame)
        #expect(error.message.hasPrefix(message))
    }

    @Test func deeplyNestedJSONIsRejectedWithoutCrashing() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        guard case .rejected = request(text) else {
            Issue.record("deep nesting was accepted")
            return
        }
    }

    @Test func responsesRoundTripThroughTheirJSONForm() {
        let frames: [ControlResponseFrame] = [
            .result(id: 1, ["version": "0.1.0"]),
            .failure(id: 2, ControlError(.unknownCommand, "unknown command 'x'")),
            .failure(id: nil, ControlError(.malformedFrame, "bad")),
            .event(id: 3, ["n": 1]),
            .end(id: 3),
        ]
        for frame in frames {
            var buffer = ControlFrameCoding.encode(frame)
            #expect(buffer.readableBytesView.last == UInt8(ascii: "\n"))
            buffer.moveWriterIndex(to: buffer.writerIndex - 1)
            #expect(ControlFrameCoding.decodeResponse(buffer) == frame)
        }
    }

    @Test func writesTheWireShapesOfTheProtocol() throws {
        #expect(String(buffer: ControlFrameCoding.encode(.end(id: 4))) == "{\"id\":4,\"end\":true}\n")
        #expect(String(buffer: ControlFrameCoding.encode(.event(id: 4, ["b": 1, "a": "/x"]))) == "{\"id\":4,\"event\":{\"a\":\"/x\",\"b\":1}}\n")
        #expect(String(buffer: ControlFrameCoding.encode(.result(id: 5, true))) == "{\"id\":5,\"ok\":true,\"result\":true}\n")
        #expect(
            String(buffer: ControlFrameCoding.encode(.failure(id: nil, ControlError(.malformedFrame, "bad"))))
                == "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"malformed-frame\",\"message\":\"bad\"}}\n"
        )
        let request = try ControlFrameCoding.encode(ControlRequestFrame(id: 1, command: "presence.publish", args: ["status": "open"]))
        #expect(String(buffer: request) == "{\"id\":1,\"command\":\"presence.publish\",\"args\":{\"status\":\"open\"}}\n")
        let error = ControlFrameCoding.decodeResponse(ByteBuffer(string: #"{"id":null,"ok":false,"error":{"code":"frame-too-large","message":"m"}}"#))
        #expect(error == .failure(id: nil, ControlError(.frameTooLarge, "m")))
    }

    @Test func aResultThatCannotBeJSONBecomesAnInternalErrorForTheSameRequest() {
        var buffer = ControlFrameCoding.encode(.result(id: 9, ["x": .number(.infinity)]))
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        guard case .failure(9, let error) = ControlFrameCoding.decodeResponse(buffer) else {
            Issue.record("expected an error frame for id 9, got \(String(buffer: buffer))")
            return
        }
        #expect(error.code == .internalError)
    }
}
