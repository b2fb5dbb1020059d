internal import CLibXML2

/// A compiled W3C XML Schema (XSD), compiled once and then used to validate any number of documents.
///
/// Validation reports every validity error libxml2 finds (not only the first), each with file and line
/// (libxml2 gives no column for validity errors). A compiled schema is read-only, so one instance may
/// validate documents from several threads at once.
public struct XMLSchema: Sendable {
    let handle: SchemaHandle
    /// The name used for the schema in diagnostics.
    public let fileName: String?

    /// Reads and compiles the schema file at `path`; `xs:include`/`xs:import` resolve relative to it.
    ///
    /// - Throws: ``XMLError`` with code ``XMLError/Code/invalidSchema`` and all diagnostics when the file
    ///   cannot be read, is not well-formed, or is not a valid schema.
    public init(contentsOf path: String) throws(XMLError) {
        LibXML2.initialize()
        let collector = DiagnosticCollector(defaultFile: path)
        let parserContext = withExtendedLifetime(collector) {
            collector.collectingThreadErrors { xmlSchemaNewParserCtxt(path) }
        }
        guard let parserContext else { throw XMLError(.outOfMemory, fileName: path) }
        let schema = Self.compile(parserContext, collector: collector)
        guard let schema else {
            throw XMLError(.invalidSchema, fileName: path, diagnostics: Self.nonEmpty(collector))
        }
        self.handle = SchemaHandle(schema: schema, document: nil)
        self.fileName = path
    }

    /// Compiles a schema held in memory; relative `xs:include`/`xs:import` resolve against `fileName`.
    ///
    /// The schema text is parsed like any ``XMLDocument`` (network and entities off).
    public init(data: [UInt8], fileName: String? = nil) throws(XMLError) {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: data, fileName: fileName)
        } catch {
            throw XMLError(.invalidSchema, fileName: fileName, diagnostics: error.diagnostics)
        }
        try self.init(document: document, fileName: fileName)
    }

    /// Compiles a schema held in a string.
    public init(string: String, fileName: String? = nil) throws(XMLError) {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: string, fileName: fileName)
        } catch {
            throw XMLError(.invalidSchema, fileName: fileName, diagnostics: error.diagnostics)
        }
        try self.init(document: document, fileName: fileName)
    }

    private init(document: XMLDocument, fileName: String?) throws(XMLError) {
        let collector = DiagnosticCollector(defaultFile: fileName)
        // The compiled schema points into the schema document, so the document lives as long as it.
        let schema: xmlSchemaPtr? = document.handle.withDocument { doc in
            let parserContext = withExtendedLifetime(collector) {
                collector.collectingThreadErrors { xmlSchemaNewDocParserCtxt(doc) }
            }
            guard let parserContext else { return nil }
            return Self.compile(parserContext, collector: collector)
        }
        guard let schema else {
            throw XMLError(.invalidSchema, fileName: fileName, diagnostics: Self.nonEmpty(collector))
        }
        self.handle = SchemaHandle(schema: schema, document: document.handle)
        self.fileName = fileName
    }

    /// Runs `xmlSchemaParse` with errors going to `collector`, then frees the parser context.
    private static func compile(_ parserContext: xmlSchemaParserCtxtPtr, collector: DiagnosticCollector)
        -> xmlSchemaPtr?
    {
        defer { xmlSchemaFreeParserCtxt(parserContext) }
        return withExtendedLifetime(collector) {
            xmlSchemaSetParserStructuredErrors(parserContext, collectDiagnostic, collector.opaque)
            return collector.collectingThreadErrors { xmlSchemaParse(parserContext) }
        }
    }

    private static func nonEmpty(_ collector: DiagnosticCollector) -> [XMLDiagnostic] {
        if !collector.diagnostics.isEmpty { return collector.diagnostics }
        return [
            XMLDiagnostic(
                file: collector.defaultFile, line: 0, column: 0, severity: .error,
                message: "libxml2 could not compile the schema")
        ]
    }

    /// Validates `document` against this schema and returns every diagnostic (empty when valid).
    ///
    /// Diagnostics name the document's ``XMLDocument/fileName`` (or `<memory>`) and the line of the
    /// offending element; their column is 0 (unknown).
    public func validate(_ document: XMLDocument) -> [XMLDiagnostic] {
        let collector = DiagnosticCollector(defaultFile: document.fileName)
        let result: Int32 = withExtendedLifetime(collector) {
            guard let validContext = xmlSchemaNewValidCtxt(handle.schema) else { return -2 }
            defer { xmlSchemaFreeValidCtxt(validContext) }
            xmlSchemaSetValidStructuredErrors(validContext, collectDiagnostic, collector.opaque)
            return document.handle.withDocument { doc in
                collector.collectingThreadErrors { xmlSchemaValidateDoc(validContext, doc) }
            }
        }
        if result != 0 && !collector.diagnostics.contains(where: \.isError) {
            collector.add(
                XMLDiagnostic(
                    file: collector.defaultFile, line: 0, column: 0, severity: .error,
                    message: result == -2
                        ? "libxml2 is out of memory" : "libxml2 failed to validate (code \(result))"))
        }
        return collector.diagnostics
    }

    /// Whether `document` is valid against this schema (no error diagnostics).
    public func isValid(_ document: XMLDocument) -> Bool {
        !validate(document).contains(where: \.isError)
    }
}

/// Owns a compiled schema (and the document it was compiled from, if any) and frees them.
final class SchemaHandle: @unchecked Sendable {
    let schema: xmlSchemaPtr
    private let document: DocumentHandle?

    init(schema: xmlSchemaPtr, document: DocumentHandle?) {
        self.schema = schema
        self.document = document
    }

    deinit {
        xmlSchemaFree(schema)
        _ = document
    }
}
