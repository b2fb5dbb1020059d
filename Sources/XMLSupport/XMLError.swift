/// One problem libxml2 reported while parsing, compiling a schema or validating, with its position.
///
/// ``description`` uses the compiler form `FILE:LINE:COLUMN: error: MESSAGE`. libxml2 knows the column
/// only for well-formedness errors; schema validity errors carry the line of the offending node and no
/// column. When the column is unknown (0) it is left out (`FILE:LINE: error: MESSAGE`), and when the
/// line is unknown too, both are left out (`FILE: error: MESSAGE`).
public struct XMLDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How serious a diagnostic is, as libxml2 grades it.
    public enum Severity: Sendable, Hashable {
        /// The input is accepted, but something is suspicious.
        case warning
        /// The input is not acceptable (e.g. a schema validity error or a namespace error).
        case error
        /// The parser stopped at this point (a well-formedness error).
        case fatal
    }

    /// The file the diagnostic refers to (the `fileName` given when parsing, or `<memory>`).
    public var file: String
    /// The 1-based line, or 0 when unknown.
    public var line: Int
    /// The 1-based column, or 0 when libxml2 does not know it (validity errors).
    public var column: Int
    /// How serious the problem is.
    public var severity: Severity
    /// libxml2's message, without the trailing newline.
    public var message: String

    /// Creates a diagnostic.
    public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    /// Whether the diagnostic makes the input unacceptable (an error or a fatal error).
    public var isError: Bool { severity != .warning }

    /// The compiler form: `FILE:LINE:COLUMN: error: MESSAGE` (position parts that are unknown are omitted).
    public var description: String {
        let kind = severity == .warning ? "warning" : "error"
        switch (line, column) {
        case (0, _): return "\(file): \(kind): \(message)"
        case (_, 0): return "\(file):\(line): \(kind): \(message)"
        default: return "\(file):\(line):\(column): \(kind): \(message)"
        }
    }
}

/// An error from ``XMLDocument``, ``XMLSchema`` or ``XMLWriter``, with every diagnostic libxml2 reported.
public struct XMLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in broad terms.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable {
            case notWellFormed, invalidSchema, inputTooLarge, outOfMemory, unrepresentableCharacter, invalidName
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The document is not well-formed (or not namespace-well-formed) XML.
        public static let notWellFormed = Code(.notWellFormed)
        /// The schema document could not be read or is not a valid XML Schema.
        public static let invalidSchema = Code(.invalidSchema)
        /// The input is larger than libxml2 can take in one call (2 GiB).
        public static let inputTooLarge = Code(.inputTooLarge)
        /// libxml2 could not allocate memory.
        public static let outOfMemory = Code(.outOfMemory)
        /// The writer was given text with a character XML 1.0 cannot represent (e.g. U+0000).
        public static let unrepresentableCharacter = Code(.unrepresentableCharacter)
        /// The writer was given an element or attribute name that is not an XML NCName.
        public static let invalidName = Code(.invalidName)

        public var description: String {
            switch base {
            case .notWellFormed: "is not well-formed XML"
            case .invalidSchema: "is not a usable XML Schema"
            case .inputTooLarge: "is too large for libxml2 (over 2 GiB)"
            case .outOfMemory: "could not be processed: libxml2 is out of memory"
            case .unrepresentableCharacter: "contains a character XML 1.0 cannot represent"
            case .invalidName: "contains a name that is not an XML NCName"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// The file name of the input, when known.
    public let fileName: String?
    /// Everything libxml2 reported, in order (errors and warnings).
    public let diagnostics: [XMLDiagnostic]
    /// Extra detail for errors that do not come from libxml2 (e.g. the offending name).
    public let detail: String?

    init(_ code: Code, fileName: String?, diagnostics: [XMLDiagnostic] = [], detail: String? = nil) {
        self.code = code
        self.fileName = fileName
        self.diagnostics = diagnostics
        self.detail = detail
    }

    /// E.g. `pidf.xml is not well-formed XML: pidf.xml:3:7: error: …` (then the count of further problems).
    public var description: String {
        var text = "\(fileName ?? "input") \(code)"
        if let detail { text += ": \(detail)" }
        let errors = diagnostics.filter(\.isError)
        if let first = errors.first ?? diagnostics.first {
            text += ": \(first)"
            let more = (errors.isEmpty ? diagnostics.count : errors.count) - 1
            if more > 0 { text += " (and \(more) more)" }
        }
        return text
    }
}
