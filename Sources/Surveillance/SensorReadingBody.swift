import Foundation
public import Presence
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
///   absent, the receiver stamps the reading with its arrival time;
/// - `latitude`, `longitude` (optional, both or neither): where the building is (WGS 84 degrees), which the
///   evaluator passes on in the alarm so supporters are told where to go.
///
/// Unknown fields are ignored, so newer senders can add some. Bodies over 4096 bytes are refused. A body may
/// also be a JSON array of up to ``maxBatchCount`` such objects (at most ``maxBatchSize`` bytes), e.g. a
/// sensor gateway's PUBLISH of everything it measured since the last one (``parseBatch(_:)``).
public struct SensorReadingBody: Sendable, Hashable {
    /// The body's media type.
    public static let contentType = "application/smf-sensor+json"
    /// The largest body of one reading accepted, in bytes.
    public static let maxSize = 4096
    /// The most readings one body (a JSON array) may carry.
    public static let maxBatchCount = 500
    /// The largest body of an array of readings accepted, in bytes.
    public static let maxBatchSize = 131_072

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
    /// Where the building is, when the sensor says.
    public var location: PresenceGeodeticPosition?

    /// Creates a body.
    public init(
        sensorID: String, building: String, kind: String, value: Double, time: Duration? = nil,
        location: PresenceGeodeticPosition? = nil
    ) {
        self.sensorID = sensorID
        self.building = building
        self.kind = kind
        self.value = value
        self.time = time
        self.location = location
    }

    /// Creates a body whose location is given as two numbers (a stored row); nil unless both are set.
    public init(
        sensorID: String, building: String, kind: String, value: Double, time: Duration?, latitude: Double?, longitude: Double?
    ) {
        self.init(
            sensorID: sensorID, building: building, kind: kind, value: value, time: time,
            location: latitude.flatMap { lat in longitude.map { PresenceGeodeticPosition(latitude: lat, longitude: $0) } })
    }

    /// The location's latitude, if any.
    public var latitude: Double? { location?.latitude }
    /// The location's longitude, if any.
    public var longitude: Double? { location?.longitude }

    /// Reads a body of one reading.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidSensorBody`` saying which field is wrong and how.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidSensorBody
        try self.init(fields: JSONFields(fields: try JSONValue.object(bytes, limit: Self.maxSize, code: code, what: "sensor body"), code: code))
    }

    /// Reads a body of one reading (a JSON object) or several (a JSON array of objects), in order.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidSensorBody`` naming the reading (by index, from 0) and the
    ///   field that is wrong; nothing of a body with one bad reading is returned.
    public static func parseBatch(_ bytes: [UInt8]) throws(SurveillanceError) -> [SensorReadingBody] {
        let code = SurveillanceError.Code.invalidSensorBody
        let value = try JSONValue.parse(bytes, limit: maxBatchSize, code: code, what: "sensor body")
        switch value {
        case .object(let fields):
            guard bytes.count <= maxSize else {
                throw SurveillanceError(code, "the sensor body is \(bytes.count) bytes, more than the \(maxSize) allowed for one reading")
            }
            return [try SensorReadingBody(fields: JSONFields(fields: fields, code: code))]
        case .array(let items):
            guard !items.isEmpty else { throw SurveillanceError(code, "the sensor body is an empty array") }
            guard items.count <= maxBatchCount else {
                throw SurveillanceError(code, "the sensor body has \(items.count) readings, more than the \(maxBatchCount) allowed")
            }
            var readings: [SensorReadingBody] = []
            readings.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                guard case .object(let fields) = item else {
                    throw SurveillanceError(code, "reading \(index): must be a JSON object, not \(item.typeName)")
                }
                do {
                    readings.append(try SensorReadingBody(fields: JSONFields(fields: fields, code: code)))
                } catch {
                    throw SurveillanceError(code, "reading \(index): \(error.message)")
                }
            }
            return readings
        default:
            throw SurveillanceError(code, "the sensor body must be a JSON object or an array of objects, not \(value.typeName)")
        }
    }

    private init(fields: JSONFields) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidSensorBody
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
        let latitude = try fields.optionalNumber("latitude")
        let longitude = try fields.optionalNumber("longitude")
        var location: PresenceGeodeticPosition?
        switch (latitude, longitude) {
        case (nil, nil):
            location = nil
        case (let latitude?, let longitude?):
            guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw SurveillanceError(code, "\"latitude\" \(latitude), \"longitude\" \(longitude) is not a WGS 84 position")
            }
            location = PresenceGeodeticPosition(latitude: latitude, longitude: longitude)
        default:
            throw SurveillanceError(code, "\"latitude\" and \"longitude\" go together: give both or neither")
        }
        self.init(sensorID: sensorID, building: building, kind: kind, value: value, time: time, location: location)
    }

    /// The body's bytes (keys sorted; `time` written as seconds since 1970 when set).
    public func encoded() -> [UInt8] {
        var object: [String: AnyEncodableValue] = [
            "id": .string(sensorID), "building": .string(building), "kind": .string(kind), "value": .number(value),
        ]
        if let time { object["time"] = .number(Double(time.wholeNanoseconds) / 1e9) }
        if let location {
            object["latitude"] = .number(location.latitude)
            object["longitude"] = .number(location.longitude)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(object)).map { [UInt8]($0) } ?? []
    }

    /// A body of several readings: a JSON array of ``encoded()`` objects.
    public static func encodedBatch(_ readings: [SensorReadingBody]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, reading) in readings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += reading.encoded()
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
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
