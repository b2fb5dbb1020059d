import Foundation

/// A JSON value as read from a body, so that type errors can be reported by field name.
enum JSONValue: Decodable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// How the value is named in error messages.
    var typeName: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Reads `bytes` as one JSON value of at most `limit` bytes.
    ///
    /// - Throws: `SurveillanceError` with `code` and a message naming the `what` being read.
    static func parse(
        _ bytes: [UInt8], limit: Int, code: SurveillanceError.Code, what: String
    ) throws(SurveillanceError) -> JSONValue {
        guard !bytes.isEmpty else { throw SurveillanceError(code, "the \(what) is empty") }
        guard bytes.count <= limit else {
            throw SurveillanceError(code, "the \(what) is \(bytes.count) bytes, more than the \(limit) allowed")
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw SurveillanceError(code, "the \(what) is not valid JSON")
        }
    }

    /// Reads `bytes` as one JSON object of at most `limit` bytes.
    ///
    /// - Throws: `SurveillanceError` with `code` and a message naming the `what` being read.
    static func object(
        _ bytes: [UInt8], limit: Int, code: SurveillanceError.Code, what: String
    ) throws(SurveillanceError) -> [String: JSONValue] {
        let value = try parse(bytes, limit: limit, code: code, what: what)
        guard case .object(let fields) = value else {
            throw SurveillanceError(code, "the \(what) must be a JSON object, not \(value.typeName)")
        }
        return fields
    }
}

/// Field access with errors that name the field.
struct JSONFields {
    let fields: [String: JSONValue]
    let code: SurveillanceError.Code

    /// A required non-empty string of at most `maxLength` UTF-8 bytes.
    func string(_ name: String, maxLength: Int = 256) throws(SurveillanceError) -> String {
        guard let value = fields[name] else { throw SurveillanceError(code, "\"\(name)\" is missing") }
        guard case .string(let text) = value else {
            throw SurveillanceError(code, "\"\(name)\" must be a string, not \(value.typeName)")
        }
        guard !text.isEmpty else { throw SurveillanceError(code, "\"\(name)\" is empty") }
        guard text.utf8.count <= maxLength else {
            throw SurveillanceError(code, "\"\(name)\" is longer than \(maxLength) bytes")
        }
        return text
    }

    /// A required finite number.
    func number(_ name: String) throws(SurveillanceError) -> Double {
        guard let value = fields[name] else { throw SurveillanceError(code, "\"\(name)\" is missing") }
        guard case .number(let number) = value, number.isFinite else {
            throw SurveillanceError(code, "\"\(name)\" must be a finite number, not \(value.typeName)")
        }
        return number
    }

    /// An optional finite number (absent or null: nil).
    func optionalNumber(_ name: String) throws(SurveillanceError) -> Double? {
        switch fields[name] {
        case nil, .null?: return nil
        default: return try number(name)
        }
    }

    /// An optional non-empty string of at most `maxLength` bytes (absent or null: nil).
    func optionalString(_ name: String, maxLength: Int = 256) throws(SurveillanceError) -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        default: return try string(name, maxLength: maxLength)
        }
    }

    /// A required non-empty array of at most `maxCount` non-empty strings of at most `maxLength` bytes each.
    func strings(_ name: String, maxCount: Int = 64, maxLength: Int = 128) throws(SurveillanceError) -> [String] {
        guard let value = fields[name] else { throw SurveillanceError(code, "\"\(name)\" is missing") }
        guard case .array(let items) = value else {
            throw SurveillanceError(code, "\"\(name)\" must be an array of strings, not \(value.typeName)")
        }
        guard !items.isEmpty else { throw SurveillanceError(code, "\"\(name)\" is empty") }
        guard items.count <= maxCount else {
            throw SurveillanceError(code, "\"\(name)\" has \(items.count) entries, more than the \(maxCount) allowed")
        }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw SurveillanceError(code, "\"\(name)\"[\(index)] must be a string, not \(item.typeName)")
            }
            guard !text.isEmpty, text.utf8.count <= maxLength else {
                throw SurveillanceError(code, "\"\(name)\"[\(index)] must be 1 to \(maxLength) bytes long")
            }
            strings.append(text)
        }
        return strings
    }
}
