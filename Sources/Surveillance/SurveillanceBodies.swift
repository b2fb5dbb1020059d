import Foundation
import Presence

/// The media types of the values the surveillance components exchange and of the requests they take.
/// docs/surveillance.md ("Value bodies") shows each one.
public enum SurveillanceMediaType {
    /// One sensor reading or an array of them (``SensorReadingBody``).
    public static let sensorReading = SensorReadingBody.contentType
    /// An alarm (``AlarmMessages/body(for:)``).
    public static let alarm = AlarmMessages.alarmContentType
    /// A supporter's answer to an alarm (``AlarmMessages/answerBody(alarmID:_:)``).
    public static let alarmAnswer = AlarmMessages.answerContentType
    /// A supporter registration (``SupporterRegistrationBody``).
    public static let registration = "application/smf-supporter-registration+json"
    /// A selection: an alarm and whom to contact (``SelectionBody``).
    public static let selection = "application/smf-selection+json"
    /// A value to forward with its destination (``ForwardRequestBody``).
    public static let forwardRequest = "application/smf-forward-request+json"
    /// A request to the recorder for stored values (``SensorValueRequest``).
    public static let sensorRequest = "application/smf-sensor-request+json"
    /// How an alarm's delivery ended (``DeliveryOutcomeBody``).
    public static let deliveryOutcome = "application/smf-alarm-delivery+json"
    /// A presence document (RFC 3863), with PIDF-LO location (RFC 4119).
    public static let pidf = PresenceDocument.contentType
    /// A phone's MESSAGE text (RFC 3428 §4).
    public static let text = "text/plain"

    /// Whether a request's `Content-Type` (parameters such as `;charset=utf-8` ignored, case-insensitive)
    /// is `expected`.
    public static func matches(_ contentType: String?, _ expected: String) -> Bool {
        guard let contentType else { return false }
        let bare = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? contentType
        return bare.trimmingCharacters(in: .whitespaces).lowercased() == expected
    }
}

// MARK: - Registrations

/// A supporter's registration with service 1 as a JSON body (`application/smf-supporter-registration+json`):
/// what a supporter PUBLISHes (event package `m2m-supporter-registration`) and what the registry's
/// `supporters` state port carries.
///
/// ```json
/// {"supporter": "sip:bob@north.example", "kinds": ["fire"], "buildings": ["house-12"],
///  "contact": "sip:bob@192.0.2.4:5062", "phone": "smf-node", "expires": 3600}
/// ```
///
/// - `supporter` (optional in a PUBLISH: the sender's From URI): the AoR;
/// - `kinds`, `buildings`: 1 to 64 non-empty strings each, `*` for any;
/// - `contact` (optional, default the AoR): where requests go;
/// - `phone` (optional): `smf-node` (default) or `sip-phone`;
/// - `expires` (optional): seconds from now; `0` removes the registration; at most the registry's
///   `registration-expiry`, which is also the default; or `expiresAt`: seconds since 1970 (what the
///   registry's state carries).
public struct SupporterRegistrationBody: Sendable, Hashable {
    /// The largest body accepted, in bytes.
    public static let maxSize = 4096

    /// The AoR, when given.
    public var supporter: String?
    /// The event kinds.
    public var kinds: [String]
    /// The buildings.
    public var buildings: [String]
    /// The contact, when given.
    public var contact: String?
    /// The phone kind.
    public var phoneKind: SupporterPhoneKind
    /// Seconds from now, when given.
    public var expires: Duration?
    /// When it lapses, when given as an absolute time.
    public var expiresAt: Duration?

    /// Creates a body.
    public init(
        supporter: String?, kinds: [String], buildings: [String], contact: String? = nil, phoneKind: SupporterPhoneKind = .smfNode,
        expires: Duration? = nil, expiresAt: Duration? = nil
    ) {
        self.supporter = supporter
        self.kinds = kinds
        self.buildings = buildings
        self.contact = contact
        self.phoneKind = phoneKind
        self.expires = expires
        self.expiresAt = expiresAt
    }

    /// The body of a registration as the registry's state carries it (absolute `expiresAt`).
    public init(_ registration: SupporterRegistration) {
        self.init(
            supporter: registration.supporter, kinds: registration.eventKinds.sorted(), buildings: registration.buildings.sorted(),
            contact: registration.contact, phoneKind: registration.phoneKind, expiresAt: registration.expiresAt)
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidRegistration`` naming the field.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidRegistration
        let fields = JSONFields(
            fields: try JSONValue.object(bytes, limit: Self.maxSize, code: code, what: "registration body"), code: code)
        let phoneText = try fields.optionalString("phone", maxLength: 16)
        var phoneKind = SupporterPhoneKind.smfNode
        if let phoneText {
            guard let kind = SupporterPhoneKind(rawValue: phoneText) else {
                throw SurveillanceError(code, "\"phone\" must be \"smf-node\" or \"sip-phone\", not \"\(phoneText)\"")
            }
            phoneKind = kind
        }
        let expires = try fields.optionalNumber("expires")
        if let expires, expires < 0 || expires > 10 * 365 * 86_400 {
            throw SurveillanceError(code, "\"expires\" must be 0 to 315360000 seconds, not \(expires)")
        }
        let expiresAt = try fields.optionalNumber("expiresAt")
        if let expiresAt, abs(expiresAt) >= 1e11 {
            throw SurveillanceError(code, "\"expiresAt\" \(expiresAt) is not a plausible number of seconds since 1970")
        }
        self.init(
            supporter: try fields.optionalString("supporter"), kinds: try fields.strings("kinds"),
            buildings: try fields.strings("buildings"), contact: try fields.optionalString("contact"), phoneKind: phoneKind,
            expires: expires.map { .milliseconds(Int64(($0 * 1000).rounded())) },
            expiresAt: expiresAt.map { .milliseconds(Int64(($0 * 1000).rounded())) })
    }

    /// The registration this body makes at `now`, or nil when it removes one (`expires: 0`).
    ///
    /// - Parameters:
    ///   - sender: The PUBLISH's From URI, used when the body names no supporter; nil for a body from a wire.
    ///   - maxExpiry: The registry's `registration-expiry`: the default and the longest allowed; nil for no
    ///     limit (a consumer of the registry's state, which carries `expiresAt`).
    /// - Throws: ``SurveillanceError/Code/invalidRegistration`` when the body names another supporter than
    ///   the sender, gives no expiry where one is needed, or the registration is not usable (every problem
    ///   listed).
    public func registration(from sender: String?, at now: Duration, maxExpiry: Duration?) throws(SurveillanceError)
        -> SupporterRegistration?
    {
        guard let supporter = supporter ?? sender else {
            throw SurveillanceError(.invalidRegistration, "\"supporter\" is missing")
        }
        if let sender, SIPAddressKey(supporter) != SIPAddressKey(sender) {
            throw SurveillanceError(.invalidRegistration, "\(sender) may register only itself, not \(supporter)")
        }
        if expires == .zero { return nil }
        let lapse: Duration
        if let expiresAt {
            lapse = maxExpiry.map { min(expiresAt, now + $0) } ?? expiresAt
        } else if let requested = expires ?? maxExpiry {
            lapse = now + (maxExpiry.map { min(requested, $0) } ?? requested)
        } else {
            throw SurveillanceError(.invalidRegistration, "\(supporter): neither \"expires\" nor \"expiresAt\" is given")
        }
        let registration = SupporterRegistration(
            supporter: supporter, eventKinds: Set(kinds), buildings: Set(buildings), contact: contact, phoneKind: phoneKind,
            expiresAt: lapse)
        let problems = registration.problems(at: now)
        guard problems.isEmpty else {
            throw SurveillanceError(.invalidRegistration, "\(supporter): \(problems.joined(separator: "; "))")
        }
        return registration
    }

    /// The body's bytes (keys sorted; `expires` and `expiresAt` as numbers of seconds).
    public func encoded() -> [UInt8] {
        var object: [String: JSONOut] = [
            "kinds": .strings(kinds), "buildings": .strings(buildings), "phone": .string(phoneKind.rawValue),
        ]
        if let supporter { object["supporter"] = .string(supporter) }
        if let contact { object["contact"] = .string(contact) }
        if let expires { object["expires"] = .number(Double(expires.wholeNanoseconds) / 1e9) }
        if let expiresAt { object["expiresAt"] = .number(Double(expiresAt.wholeNanoseconds) / 1e9) }
        return JSONOut.encode(object)
    }
}

// MARK: - Forwarding

/// A request to the recorder (service 3) for stored values (`application/smf-sensor-request+json`, in a
/// MESSAGE to the recorder instance): the latest value of one sensor, or of every sensor of a building,
/// to be forwarded (through service 4) to `destination`.
///
/// ```json
/// {"sensor": "smoke-kitchen", "building": "house-12", "destination": "sip:archive@house-3.north-street"}
/// ```
///
/// At least one of `sensor` and `building`; `destination` (a `sip:`/`sips:` URI) is optional: without it the
/// forwarder sends to its own `destination` or to the consumers wired to its `readings` port.
public struct SensorValueRequest: Sendable, Hashable {
    /// One sensor, or nil for every sensor of ``building``.
    public var sensor: String?
    /// One building, or nil for the sensor wherever it is.
    public var building: String?
    /// Where the values go.
    public var destination: String?

    /// Creates a request.
    public init(sensor: String?, building: String?, destination: String?) {
        self.sensor = sensor
        self.building = building
        self.destination = destination
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidForwardRequest`` naming the field.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidForwardRequest
        let fields = JSONFields(fields: try JSONValue.object(bytes, limit: 2048, code: code, what: "sensor request"), code: code)
        let sensor = try fields.optionalString("sensor", maxLength: 128)
        let building = try fields.optionalString("building", maxLength: 128)
        guard sensor != nil || building != nil else {
            throw SurveillanceError(code, "the request names neither a \"sensor\" nor a \"building\"")
        }
        let destination = try fields.optionalString("destination", maxLength: 512)
        if let destination, !SIPAddress.isSIPURI(destination) {
            throw SurveillanceError(code, "\"destination\" \"\(destination)\" is not a sip: or sips: URI")
        }
        self.init(sensor: sensor, building: building, destination: destination)
    }

    /// The body's bytes.
    public func encoded() -> [UInt8] {
        var object: [String: JSONOut] = [:]
        if let sensor { object["sensor"] = .string(sensor) }
        if let building { object["building"] = .string(building) }
        if let destination { object["destination"] = .string(destination) }
        return JSONOut.encode(object)
    }
}

/// A value for the forwarder (service 4) with its destination (`application/smf-forward-request+json`), as
/// the recorder's `forwards` port carries it.
///
/// ```json
/// {"destination": "sip:archive@house-3.north-street", "reading": {"id": "smoke-kitchen", …}}
/// ```
///
/// `destination` is optional (see ``SensorValueRequest``).
public struct ForwardRequestBody: Sendable, Hashable {
    /// Where the reading goes, if the request named it.
    public var destination: String?
    /// The reading (with its measurement time).
    public var reading: SensorReadingBody

    /// Creates a body.
    public init(destination: String?, reading: SensorReadingBody) {
        self.destination = destination
        self.reading = reading
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidForwardRequest`` naming the field.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        let code = SurveillanceError.Code.invalidForwardRequest
        let fields = try JSONValue.object(bytes, limit: SensorReadingBody.maxSize + 1024, code: code, what: "forward request")
        let destination = try JSONFields(fields: fields, code: code).optionalString("destination", maxLength: 512)
        if let destination, !SIPAddress.isSIPURI(destination) {
            throw SurveillanceError(code, "\"destination\" \"\(destination)\" is not a sip: or sips: URI")
        }
        guard case .object? = fields["reading"] else {
            throw SurveillanceError(code, "\"reading\" must be a sensor reading object")
        }
        let reading: SensorReadingBody
        do {
            reading = try SensorReadingBody(parsing: JSONOut.reencode(fields["reading"]))
        } catch {
            throw SurveillanceError(code, "\"reading\": \(error.message)")
        }
        self.init(destination: destination, reading: reading)
    }

    /// The body's bytes.
    public func encoded() -> [UInt8] {
        // Keys in sorted order, as every body here: "destination" before "reading".
        var bytes = Array("{".utf8)
        if let destination { bytes += Array(#""destination":"#.utf8) + JSONOut.encodeCodable(destination) + Array(",".utf8) }
        return bytes + Array(#""reading":"#.utf8) + reading.encoded() + Array("}".utf8)
    }
}

// MARK: - Selections

/// What service 6 sends service 7 for one alarm (`application/smf-selection+json`): the alarm, the supporters
/// to contact in order with the facts behind the choice, and who was left out and why.
///
/// ```json
/// {"alarm": {"id": "house-12-fire-1795420800000-3f2a", "kind": "fire", …},
///  "recipients": [{"supporter": "sip:bob@north.example", "contact": "sip:bob@192.0.2.4:5062", "phone": "smf-node",
///                  "availability": "available", "distanceKm": 0.11,
///                  "reason": "responsible for fire in house-12, available, 0.11 km away"}],
///  "excluded": [{"supporter": "sip:erin@north.example", "reason": "3.20 km away, beyond 2.00 km"}]}
/// ```
public struct SelectionBody: Sendable, Hashable, Codable {
    /// One supporter to contact.
    public struct Recipient: Sendable, Hashable, Codable {
        /// The AoR.
        public var supporter: String
        /// Where requests go.
        public var contact: String
        /// `smf-node` or `sip-phone`.
        public var phone: SupporterPhoneKind
        /// Availability when selected.
        public var availability: SupporterAvailability
        /// Distance to the building, when known.
        public var distanceKm: Double?
        /// Why they were chosen.
        public var reason: String

        /// The recipient the notifier contacts.
        public var alarmRecipient: AlarmRecipient {
            AlarmRecipient(supporter: supporter, contact: contact, phoneKind: phone)
        }
    }

    /// One responsible supporter left out.
    public struct Excluded: Sendable, Hashable, Codable {
        /// The AoR.
        public var supporter: String
        /// Why.
        public var reason: String
    }

    /// The alarm.
    public var alarm: Alarm
    /// Whom to contact, first to last.
    public var recipients: [Recipient]
    /// Who was left out.
    public var excluded: [Excluded]

    /// The body for a selector's answer.
    public init(alarm: Alarm, selection: SupporterSelection) {
        self.alarm = alarm
        self.recipients = selection.selected.map { chosen in
            Recipient(
                supporter: chosen.registration.supporter, contact: chosen.registration.contact, phone: chosen.registration.phoneKind,
                availability: chosen.availability, distanceKm: chosen.distanceKilometres,
                reason: chosen.reason(kind: alarm.kind, building: alarm.building))
        }
        self.excluded = selection.excluded.map { Excluded(supporter: $0.supporter, reason: $0.reason) }
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidSelection`` saying what is wrong.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        self = try JSONOut.decode(SelectionBody.self, from: bytes, limit: 262_144, code: .invalidSelection, what: "selection body")
        do {
            try alarm.validate()
        } catch {
            throw SurveillanceError(.invalidSelection, "\"alarm\": \(error.message)")
        }
        for (index, recipient) in recipients.enumerated()
        where !SIPAddress.isSIPURI(recipient.supporter) || !SIPAddress.isSIPURI(recipient.contact) {
            throw SurveillanceError(.invalidSelection, "\"recipients\"[\(index)]: supporter and contact must be sip: or sips: URIs")
        }
    }

    /// The notifier's recipient list.
    public var alarmRecipients: [AlarmRecipient] { recipients.map(\.alarmRecipient) }

    /// The body's bytes (keys sorted).
    public func encoded() -> [UInt8] { JSONOut.encodeCodable(self) }
}

// MARK: - Delivery outcomes

/// How an alarm's delivery ended (`application/smf-alarm-delivery+json`), as the notifier's `deliveries`
/// port carries it: who was told, when, over what, and who accepted.
///
/// ```json
/// {"alarm": {…}, "outcome": "accepted", "by": "sip:carol@north.example", "atNs": 1795420812400000000,
///  "reason": "", "told": [{"supporter": "sip:bob@north.example", "channel": "NOTIFY", "atNs": …}]}
/// ```
public struct DeliveryOutcomeBody: Sendable, Hashable, Codable {
    /// One request that went to a supporter.
    public struct Told: Sendable, Hashable, Codable {
        /// The AoR.
        public var supporter: String
        /// `NOTIFY`, `MESSAGE` or `SUBSCRIBE`.
        public var channel: AlarmChannel
        /// When the first such request went out, in nanoseconds since 1970.
        public var atNs: Int64
    }

    /// The alarm.
    public var alarm: Alarm
    /// `accepted` or `cancelled`.
    public var outcome: String
    /// Who accepted, or who cancelled.
    public var by: String
    /// When, in nanoseconds since 1970.
    public var atNs: Int64
    /// Why it was cancelled (empty when accepted).
    public var reason: String
    /// Each supporter told, in first-contact order, with the request that carried the alarm.
    public var told: [Told]

    /// The outcome of a finished record; nil while the alarm is open.
    public init?(_ record: AlarmRecord) {
        var told: [Told] = []
        for step in record.steps {
            if case .contacted(_, _, let supporter, let channel) = step.kind,
                !told.contains(where: { $0.supporter == supporter && $0.channel == channel })
            {
                told.append(Told(supporter: supporter, channel: channel, atNs: step.time.wholeNanoseconds))
            }
        }
        guard let last = record.steps.last else { return nil }
        switch last.kind {
        case .accepted(let supporter):
            self.init(alarm: record.alarm, outcome: "accepted", by: supporter, atNs: last.time.wholeNanoseconds, reason: "", told: told)
        case .cancelled(let by, let reason):
            self.init(alarm: record.alarm, outcome: "cancelled", by: by, atNs: last.time.wholeNanoseconds, reason: reason, told: told)
        default:
            return nil
        }
    }

    private init(alarm: Alarm, outcome: String, by: String, atNs: Int64, reason: String, told: [Told]) {
        self.alarm = alarm
        self.outcome = outcome
        self.by = by
        self.atNs = atNs
        self.reason = reason
        self.told = told
    }

    /// Reads a body.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidDeliveryOutcome`` saying what is wrong.
    public init(parsing bytes: [UInt8]) throws(SurveillanceError) {
        self = try JSONOut.decode(DeliveryOutcomeBody.self, from: bytes, limit: 262_144, code: .invalidDeliveryOutcome, what: "delivery outcome")
    }

    /// The body's bytes (keys sorted).
    public func encoded() -> [UInt8] { JSONOut.encodeCodable(self) }
}

// MARK: - Writing JSON

/// Small JSON values for writing bodies with sorted keys.
enum JSONOut: Encodable {
    case string(String)
    case number(Double)
    case strings([String])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .strings(let texts): try container.encode(texts)
        }
    }

    /// An object's bytes with sorted keys.
    static func encode(_ object: [String: JSONOut]) -> [UInt8] {
        encodeCodable(object)
    }

    /// Any encodable value's bytes with sorted keys (empty only if encoding fails, which these types never do).
    static func encodeCodable(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { [UInt8]($0) } ?? []
    }

    /// A parsed JSON value written back as bytes (to hand a nested object to a parser that takes bytes).
    static func reencode(_ value: JSONValue?) -> [UInt8] {
        guard let value else { return [] }
        return encodeCodable(AnyJSON(value))
    }

    /// Decodes `type` from at most `limit` bytes; errors name the field by its coding path.
    static func decode<T: Decodable>(
        _ type: T.Type, from bytes: [UInt8], limit: Int, code: SurveillanceError.Code, what: String
    ) throws(SurveillanceError) -> T {
        guard !bytes.isEmpty else { throw SurveillanceError(code, "the \(what) is empty") }
        guard bytes.count <= limit else {
            throw SurveillanceError(code, "the \(what) is \(bytes.count) bytes, more than the \(limit) allowed")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw SurveillanceError(code, "the \(what) \(describe(error))")
        } catch {
            throw SurveillanceError(code, "the \(what) is not valid JSON")
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { key in key.intValue.map { "[\($0)]" } ?? "\"\(key.stringValue)\"" }.joined(separator: ".")
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "has no \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "has a wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "is not valid JSON"
        case .dataCorrupted(let context):
            return "has an invalid value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "cannot be read"
        }
    }
}

/// A ``JSONValue`` written back out.
private struct AnyJSON: Encodable {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .string(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .bool(let flag): try container.encode(flag)
        case .null: try container.encodeNil()
        case .array(let items): try container.encode(items.map(AnyJSON.init))
        case .object(let fields): try container.encode(fields.mapValues(AnyJSON.init))
        }
    }
}

// MARK: - SIP addresses

/// A SIP URI reduced to what identifies a party: scheme, user and host[:port], host lowercased, without
/// display name, angle brackets, parameters or headers (RFC 3261 §19.1.4 compares the user part
/// case-sensitively and the host case-insensitively).
public struct SIPAddressKey: Sendable, Hashable, CustomStringConvertible {
    /// `user@host[:port]` as compared.
    public let description: String

    /// Reduces `uri` (e.g. `"Bob" <sip:bob@North.example;transport=udp>`).
    public init(_ uri: String) {
        var text = Substring(uri.trimmingCharacters(in: .whitespaces))
        if let open = text.firstIndex(of: "<"), let close = text[open...].firstIndex(of: ">") {
            text = text[text.index(after: open)..<close]
        }
        if let cut = text.firstIndex(where: { $0 == ";" || $0 == "?" }) { text = text[..<cut] }
        let lower = text.lowercased()
        if lower.hasPrefix("sips:") {
            text = text.dropFirst(5)
        } else if lower.hasPrefix("sip:") {
            text = text.dropFirst(4)
        }
        if let at = text.lastIndex(of: "@") {
            description = String(text[..<at]) + "@" + text[text.index(after: at)...].lowercased()
        } else {
            description = text.lowercased()
        }
    }
}
