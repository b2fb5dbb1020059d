internal import CLibXML2

/// A parsed, well-formed, namespace-well-formed XML document (immutable).
///
/// Parsing is XXE-safe: network access is off (`XML_PARSE_NONET`), entities are not substituted
/// (no `XML_PARSE_NOENT`) and no external DTD is loaded (no `XML_PARSE_DTDLOAD`), so an external entity
/// such as `<!ENTITY x SYSTEM "file:///etc/passwd">` is never read. libxml2's default limits on size,
/// depth and entity amplification stay in force (no `XML_PARSE_HUGE`). Errors are collected per parse
/// (never printed to stderr) with file, line and column.
public struct XMLDocument: Sendable {
    /// The root element, as an immutable snapshot.
    public let root: XMLElement
    /// The file name given when parsing (used in diagnostics), if any.
    public let fileName: String?
    /// Warnings libxml2 reported while parsing (a document with errors is not created).
    public let warnings: [XMLDiagnostic]

    let handle: DocumentHandle

    /// Parses UTF-8 (or any encoding libxml2 detects from the BOM/declaration) bytes.
    ///
    /// - Parameters:
    ///   - bytes: The document.
    ///   - fileName: The name used in diagnostics (and as base URI); nil reports `<memory>`.
    /// - Throws: ``XMLError`` with code ``XMLError/Code/notWellFormed`` and every diagnostic when the
    ///   input is not well-formed or not namespace-well-formed.
    public init(parsing bytes: [UInt8], fileName: String? = nil) throws(XMLError) {
        try self.init(parsingBytes: bytes, fileName: fileName, encoding: nil)
    }

    /// Parses a string (always read as UTF-8, whatever its XML declaration says).
    public init(parsing string: String, fileName: String? = nil) throws(XMLError) {
        try self.init(parsingBytes: Array(string.utf8), fileName: fileName, encoding: "UTF-8")
    }

    private init(parsingBytes bytes: [UInt8], fileName: String?, encoding: String?) throws(XMLError) {
        LibXML2.initialize()
        guard bytes.count <= Int(Int32.max) else { throw XMLError(.inputTooLarge, fileName: fileName) }
        guard let context = xmlNewParserCtxt() else { throw XMLError(.outOfMemory, fileName: fileName) }
        defer { xmlFreeParserCtxt(context) }

        let collector = DiagnosticCollector(defaultFile: fileName)
        let document: xmlDocPtr? = withExtendedLifetime(collector) {
            context.pointee._private = collector.opaque
            context.pointee.sax.pointee.serror = collectParserDiagnostic
            return collector.collectingThreadErrors {
                bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { chars in
                        xmlCtxtReadMemory(
                            context, chars.baseAddress, Int32(chars.count), fileName, encoding,
                            LibXML2.documentOptions
                        )
                    }
                }
            }
        }
        context.pointee._private = nil

        let diagnostics = collector.diagnostics
        guard let document else {
            var all = diagnostics
            if all.isEmpty {
                all.append(
                    XMLDiagnostic(
                        file: collector.defaultFile, line: 0, column: 0, severity: .fatal,
                        message: "libxml2 returned no document"))
            }
            throw XMLError(.notWellFormed, fileName: fileName, diagnostics: all)
        }
        let handle = DocumentHandle(document)
        // Namespace errors (e.g. an undeclared prefix) are not fatal to libxml2, but they are to us.
        guard !diagnostics.contains(where: \.isError) else {
            throw XMLError(.notWellFormed, fileName: fileName, diagnostics: diagnostics)
        }
        guard let rootNode = xmlDocGetRootElement(document) else {
            throw XMLError(
                .notWellFormed, fileName: fileName,
                diagnostics: diagnostics + [
                    XMLDiagnostic(
                        file: collector.defaultFile, line: 0, column: 0, severity: .fatal,
                        message: "the document has no root element")
                ])
        }
        self.root = XMLElement(snapshotOf: rootNode)
        self.fileName = fileName
        self.warnings = diagnostics
        self.handle = handle
    }
}

/// Owns a libxml2 document and frees it; guards operations that may touch it (schema validation can
/// register IDs on the document).
final class DocumentHandle: @unchecked Sendable {
    private let document: xmlDocPtr
    private let lock = PThreadLock()

    init(_ document: xmlDocPtr) {
        self.document = document
    }

    deinit {
        xmlFreeDoc(document)
    }

    func withDocument<T>(_ body: (xmlDocPtr) throws -> T) rethrows -> T {
        try lock.withLock { try body(document) }
    }
}

extension XMLElement {
    /// Copies a libxml2 element node (and its element descendants) into Swift values.
    init(snapshotOf node: xmlNodePtr) {
        var attributes: [XMLAttribute] = []
        var attribute = node.pointee.properties
        while let current = attribute {
            attributes.append(
                XMLAttribute(
                    name: current.pointee.name.map { String(cString: $0) } ?? "",
                    namespaceURI: current.pointee.ns?.pointee.href.map { String(cString: $0) },
                    value: textOf(children: current.pointee.children)
                )
            )
            attribute = current.pointee.next
        }

        var children: [XMLElement] = []
        var child = node.pointee.children
        while let current = child {
            if current.pointee.type == XML_ELEMENT_NODE {
                children.append(XMLElement(snapshotOf: current))
            }
            child = current.pointee.next
        }

        self.init(
            name: node.pointee.name.map { String(cString: $0) } ?? "",
            namespaceURI: node.pointee.ns?.pointee.href.map { String(cString: $0) },
            attributes: attributes,
            children: children,
            text: textOf(children: node.pointee.children),
            line: Int(xmlGetLineNo(node))
        )
    }
}

/// Concatenates the content of the text and CDATA nodes in a sibling list.
private func textOf(children first: xmlNodePtr?) -> String {
    var text = ""
    var node = first
    while let current = node {
        if current.pointee.type == XML_TEXT_NODE || current.pointee.type == XML_CDATA_SECTION_NODE,
            let content = current.pointee.content
        {
            text += String(cString: content)
        }
        node = current.pointee.next
    }
    return text
}
