import Foundation

/// A JSON value: the arguments, results and events that travel over the control channel.
///
/// Handlers stay typed at their edges: decode arguments with ``decode(_:)`` and build results with
/// ``init(encoding:)`` (or the literal syntax), so no handler parses JSON by hand.
/// Numbers are `Double`, so integers are exact up to 2^53 (as in JavaScript and most JSON tools).
public enum ControlValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ControlValue])
    case object([String: ControlValue])
}

// MARK: - Accessors

extension ControlValue {
    /// The member `key` of an object, or nil for a missing key or a value that is not an object.
    public subscript(key: String) -> ControlValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    public var isNull: Bool { self == .null }

    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    public var doubleValue: Double? {
        guard case .number(let value) = self else { return nil }
        return value
    }

    /// The number as an `Int` when it is integral and in range; nil otherwise.
    public var intValue: Int? {
        guard case .number(let value) = self else { return nil }
        return Int(exactly: value)
    }

    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    public var arrayValue: [ControlValue]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    public var objectValue: [String: ControlValue]? {
        guard case .object(let value) = self else { return nil }
        return value
    }
}

// MARK: - Typed edges

extension ControlValue {
    /// The JSON form of `value` (any `Encodable`, e.g. a handler's result struct).
    ///
    /// - Throws: ``ControlError`` with code ``ControlError/Code/internalError`` when `value` cannot be encoded
    ///   (e.g. a non-finite `Double`).
    public init(encoding value: some Encodable) throws(ControlError) {
        do {
            let data = try JSONEncoder().encode(value)
            self = try JSONDecoder().decode(ControlValue.self, from: data)
        } catch {
            throw ControlError(.internalError, "cannot encode \(type(of: value)) as JSON: \(error)")
        }
    }

    /// Decodes this value as `type` (e.g. a command's argument struct).
    ///
    /// - Throws: ``ControlError`` with code ``ControlError/Code/invalidArguments`` naming the field that is missing
    ///   or has the wrong type.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(ControlError) -> T {
        do {
            let data = try JSONEncoder().encode(self)
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw ControlError(.invalidArguments, Self.describe(error))
        } catch {
            throw ControlError(.invalidArguments, "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the arguments" : "'\(text)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(describe(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(describe(type)), not null"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)) is invalid: \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is any BinaryInteger.Type, is any BinaryFloatingPoint.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "\(type)"
        }
    }
}

// MARK: - Codable

extension ControlValue: Codable {
    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [ControlValue] = []
            if let count = array.count { values.reserveCapacity(count) }
            while !array.isAtEnd { values.append(try array.decode(ControlValue.self)) }
            self = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: ControlValue] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(ControlValue.self, forKey: key) }
            self = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var single = encoder.singleValueContainer()
            try single.encodeNil()
        case .bool(let value):
            var single = encoder.singleValueContainer()
            try single.encode(value)
        case .number(let value):
            // Integral values are written without a fraction ("3", not "3.0").
            var single = encoder.singleValueContainer()
            if let exact = Int64(exactly: value) { try single.encode(exact) } else { try single.encode(value) }
        case .string(let value):
            var single = encoder.singleValueContainer()
            try single.encode(value)
        case .array(let values):
            var array = encoder.unkeyedContainer()
            for value in values { try array.encode(value) }
        case .object(let members):
            var object = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in members { try object.encode(value, forKey: AnyKey(key)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}

// MARK: - Literals

extension ControlValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: ControlValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ControlValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension ControlValue: CustomStringConvertible {
    /// The compact JSON text, keys sorted (for logs).
    public var description: String { jsonText(pretty: false) }

    /// The JSON text of this value; keys are sorted so the output is stable (e.g. for `--json`).
    public func jsonText(pretty: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
