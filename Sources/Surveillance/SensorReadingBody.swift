import Foundation
import Presence
public import Rules

/// A sensor value as carried in a PUBLISH (RFC 3903) or NOTIFY of the sensor event package
/// (`m2m-sensor`): the body type `application/smf-sensor+json`.
///
/// ```json
/// {"id": "smoke-kitchen", "building": "house-12", "kind": "smoke", "value": 0.7, "time": "2026-11-23T08:00:00Z"}
/// ```
///
/// - `id`, `building`, `kind`: non-empty strings of at most 128 bytes;
/// - `value`: a finite number (`true`/`false` are read as 1/0, for door and motion contacts);
/// - `time` (optional): an `xs:dateTime` string (whole seconds) or a number of seconds since 1970; when
///   absent, the receiver stamps the reading with its arrival time.
///
/// Unknown fields are ignored, so newer senders can add some. Bodies over 4096 bytes are refused.
public struct SensorReadingBody: Sendable, Hashable {
    /// The body's media type.
    public static let contentType = "application/smf-sensor+json"
    /// The largest body accepted, in bytes.
    public static let maxSize = 4096

    /// The sensor's id.
    public var sensorID: String
    /// The building it is in.
    public var building: String
    /// What it measures.
    public var kind: String
    /// The value.
    public var value: Double
    /// When it was measured, as a duration since 1970-01-01T00:00:00Z; nil when the sender gave none.
    public var time: Duration?

    /// Creates a body.
    public init(sensorID: String, building: String, kind: String, value: Double, time: Duration? = nil) {
        self.sensorID = sensorID
        self.building = building
        self.kind = kind
        self.value = value
        self.time = time
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidSensorBody`` saying which field is wrong and how.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidSensorBody
        let fields = JSONFields(fields: try JSONValue.object(bytes, limit: Self.maxSize, code: code, what: "sensor body"), code: code)
        let sensorID = try fields.string("id", maxLength: 128)
        let building = try fields.string("building", maxLength: 128)
        let kind = try fields.string("kind", maxLength: 128)
        let value: Double
        if case .bool(let flag)? = fields.fields["value"] {
            value = flag ? 1 : 0
        } else {
            value = try fields.number("value")
        }
        var time: Duration?
        switch fields.fields["time"] {
        case nil, .null?:
            time = nil
        case .number(let seconds)?:
            guard seconds.isFinite, abs(seconds) < 1e11 else {
                throw SurveillanceError(code, "\"time\" \(seconds) is not a plausible number of seconds since 1970")
            }
            time = .milliseconds(Int64((seconds * 1000).rounded()))
        case .string(let text)?:
            guard let timestamp = PresenceTimestamp(text) else {
                throw SurveillanceError(code, "\"time\" \"\(text)\" is not a date-time such as 2026-11-23T08:00:00Z")
            }
            time = .seconds(timestamp.secondsSince1970)
        case let other?:
            throw SurveillanceError(code, "\"time\" must be a date-time string or a number, not \(other.typeName)")
        }
        self.init(sensorID: sensorID, building: building, kind: kind, value: value, time: time)
    }

    /// The body's bytes (keys sorted; `time` written as seconds since 1970 when set).
    public func encoded() -> [UInt8] {
        var object: [String: AnyEncodableValue] = [
            "id": .string(sensorID), "building": .string(building), "kind": .string(kind), "value": .number(value),
        ]
        if let time { object["time"] = .number(Double(time.wholeNanoseconds) / 1e9) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(object)).map { [UInt8]($0) } ?? []
    }

    /// The reading for the rule evaluator, stamped with `receivedAt` when the body had no time.
    public func reading(receivedAt: Duration) -> RuleReading {
        RuleReading(sensorID: sensorID, building: building, kind: kind, value: value, time: time ?? receivedAt)
    }
}

/// A string or number, for writing small JSON objects.
private enum AnyEncodableValue: Encodable {
    case string(String)
    case number(Double)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        }
    }
}
