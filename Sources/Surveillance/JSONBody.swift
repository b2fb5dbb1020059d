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

    /// Reads `bytes` as one JSON object of at most `limit` bytes.
    ///
    /// - Throws: `SurveillanceError` with `code` and a message naming the `what` being read.
    static func object(
        _ bytes: [UInt8], limit: Int, code: SurveillanceError.Code, what: String
    ) throws(SurveillanceError) -> [String: JSONValue] {
        guard !bytes.isEmpty else { throw SurveillanceError(code, "the \(what) is empty") }
        guard bytes.count <= limit else {
            throw SurveillanceError(code, "the \(what) is \(bytes.count) bytes, more than the \(limit) allowed")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw SurveillanceError(code, "the \(what) is not valid JSON")
        }
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
}
