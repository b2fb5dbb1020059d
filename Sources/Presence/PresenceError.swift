/// Why a PIDF body could not be read or written.
///
/// Reading rejects only input that is not PIDF at all (not XML, or a root other than `<presence>`);
/// writing rejects values that would make the document invalid against the PIDF schemas.
public struct PresenceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable {
            case notXML, notPIDF, invalidValue
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The body is not well-formed XML.
        public static let notXML = Code(.notXML)
        /// The body is XML, but its root is not a PIDF `<presence>` element (RFC 3863 §4.1.1).
        public static let notPIDF = Code(.notPIDF)
        /// A value cannot be written as valid PIDF (e.g. a tuple id that is not an XML ID, a latitude
        /// outside ±90°, a priority outside 0…1).
        public static let invalidValue = Code(.invalidValue)

        public var description: String {
            switch base {
            case .notXML: "is not well-formed XML"
            case .notPIDF: "is not a PIDF document"
            case .invalidValue: "cannot be written as valid PIDF"
            }
        }
    }

    /// The kind of problem.
    public let code: Code
    /// The 1-based line of the problem in the input, when it comes from input (0 when unknown).
    public let line: Int
    /// What exactly is wrong.
    public let detail: String

    init(_ code: Code, line: Int = 0, _ detail: String) {
        self.code = code
        self.line = line
        self.detail = detail
    }

    /// E.g. `PIDF body line 3: is not a PIDF document: the root element is <{urn:x}foo>, expected …`.
    public var description: String {
        let position = line > 0 ? " line \(line)" : ""
        return "PIDF body\(position) \(code): \(detail)"
    }
}
