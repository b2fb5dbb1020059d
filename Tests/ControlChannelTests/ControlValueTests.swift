import Foundation
import Testing

@testable import ControlChannel

@Suite struct ControlValueTests {
    @Test func jsonRoundTripKeepsEveryKindOfValue() throws {
        let value: ControlValue = [
            "null": nil, "yes": true, "no": false, "int": 42, "negative": -7, "fraction": 0.25,
            "text": "hé \"quoted\"\n", "list": [1, "two", [3]], "nested": ["a": ["b": []]],
        ]
        let data = try JSONEncoder().encode(value)
        let back = try JSONDecoder().decode(ControlValue.self, from: data)
        #expect(back == value)
    }

    @Test func integralNumbersAreWrittenWithoutFraction() {
        let value: ControlValue = ["pid": 1234, "uptime": 1.5, "big": .number(9_007_199_254_740_992)]
        #expect(value.description == #"{"big":9007199254740992,"pid":1234,"uptime":1.5}"#)
    }

    @Test func booleansAndNumbersStayDistinctWhenDecoded() throws {
        let value = try JSONDecoder().decode(ControlValue.self, from: Data(#"[true, 1, 0, false, "1"]"#.utf8))
        #expect(value == [.bool(true), .number(1), .number(0), .bool(false), .string("1")])
    }

    @Test func accessorsReturnNilForOtherKinds() {
        let value: ControlValue = ["n": 3, "f": 2.5, "s": "x", "b": true]
        #expect(value["n"]?.intValue == 3)
        #expect(value["f"]?.intValue == nil)
        #expect(value["f"]?.doubleValue == 2.5)
        #expect(value["s"]?.intValue == nil)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["b"]?.boolValue == true)
        #expect(value["missing"] == nil)
        #expect(ControlValue.string("x")["key"] == nil)
    }

    struct PublishArguments: Codable, Equatable {
        var status: String
        var note: String?
        var priority: Int
    }

    @Test func decodesTypedArgumentsAndEncodesTypedResults() throws {
        let args: ControlValue = ["status": "open", "priority": 2]
        let decoded = try args.decode(PublishArguments.self)
        #expect(decoded == PublishArguments(status: "open", note: nil, priority: 2))
        let encoded = try ControlValue(encoding: PublishArguments(status: "closed", note: "away", priority: 1))
        #expect(encoded == ["status": "closed", "note": "away", "priority": 1])
    }

    @Test func decodingNamesTheMissingField() {
        let error = #expect(throws: ControlError.self) { try (["priority": 2] as ControlValue).decode(PublishArguments.self) }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message == "missing 'status'")
    }

    @Test func decodingNamesTheFieldOfTheWrongType() {
        let error = #expect(throws: ControlError.self) {
            try (["status": "open", "priority": "high"] as ControlValue).decode(PublishArguments.self)
        }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message == "'priority' must be a number")
    }

    @Test func nonFiniteNumbersCannotBeEncodedAndSayWhy() {
        let error = #expect(throws: ControlError.self) { try ControlValue(encoding: ["x": Double.nan]) }
        #expect(error?.code == .internalError)
    }
}
