import Foundation
import XMLSupport

/// The outcome of loading a composition: the model when it could be read, and every problem found.
public struct CompositionLoadResult: Sendable {
    /// The composition, when the file is well-formed and schema-valid (it may still have semantic
    /// problems: see ``diagnostics``).
    public var composition: Composition?
    /// Every problem found, in file order.
    public var diagnostics: [CompositionDiagnostic]

    /// Whether the composition can be deployed: read, schema-valid and free of semantic problems.
    public var isValid: Bool { composition != nil && diagnostics.isEmpty }
}

/// A composition that did not validate, with every problem found.
public struct CompositionError: Error, Sendable, CustomStringConvertible {
    /// Every problem, each `FILE:LINE:COLUMN: error: MESSAGE`.
    public var diagnostics: [CompositionDiagnostic]

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Reads and validates compositions in two steps, both before anything runs: the XSD (libxml2), then
/// the semantic checks against a ``ServiceTypeCatalog`` (see ``CompositionChecker``).
///
/// Semantic checks run only on schema-valid documents (on a structurally broken document they would
/// mostly repeat the schema's complaints). Within each step every problem is reported, not only the first.
public struct CompositionLoader: Sendable {
    /// The service types compositions may use.
    public var catalog: ServiceTypeCatalog

    /// Creates a loader for `catalog` (default: the built-in types).
    public init(catalog: ServiceTypeCatalog = .builtIn) {
        self.catalog = catalog
    }

    /// Reads and validates the file at `path` (named `path` in diagnostics).
    public func load(contentsOf path: String) -> CompositionLoadResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            return CompositionLoadResult(
                composition: nil,
                diagnostics: [CompositionDiagnostic(location: SourceLocation(file: path, line: 1), message: reason)])
        }
        return load(bytes: Array(data), fileName: path)
    }

    /// Validates a composition held in memory; `fileName` names it in diagnostics.
    public func load(bytes: [UInt8], fileName: String) -> CompositionLoadResult {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: bytes, fileName: fileName)
        } catch {
            return CompositionLoadResult(composition: nil, diagnostics: Self.diagnostics(error.diagnostics, fileName))
        }
        let schema: XMLSchema
        switch CompositionSchema.compiled {
        case .success(let compiled): schema = compiled
        case .failure(let error):
            return CompositionLoadResult(
                composition: nil,
                diagnostics: [
                    CompositionDiagnostic(
                        location: SourceLocation(file: fileName, line: 1),
                        message: "the bundled composition schema does not compile: \(error)")
                ])
        }
        let root = document.root
        guard root.name == "composition", root.namespaceURI == Composition.namespace else {
            let found = root.namespaceURI.map { "{\($0)}\(root.name)" } ?? root.name
            return CompositionLoadResult(
                composition: nil,
                diagnostics: [
                    CompositionDiagnostic(
                        location: SourceLocation(file: fileName, line: root.line),
                        message:
                            "the root element is <\(found)>, not <composition> in namespace \(Composition.namespace)")
                ])
        }
        let schemaProblems = schema.validate(document).filter(\.isError)
        guard schemaProblems.isEmpty else {
            return CompositionLoadResult(composition: nil, diagnostics: Self.diagnostics(schemaProblems, fileName))
        }
        var parser = CompositionParser(file: fileName)
        let composition = parser.parse(root)
        let checker = CompositionChecker(catalog: catalog)
        let problems = (parser.diagnostics + checker.check(composition, servicesWithUnreadableRules: parser.servicesWithUnreadableRules)).sorted {
            ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column)
        }
        return CompositionLoadResult(composition: composition, diagnostics: problems)
    }

    /// Reads and validates a file, throwing every problem found.
    public func composition(contentsOf path: String) throws(CompositionError) -> Composition {
        let result = load(contentsOf: path)
        guard let composition = result.composition, result.diagnostics.isEmpty else {
            throw CompositionError(diagnostics: result.diagnostics)
        }
        return composition
    }

    /// libxml2's diagnostics in our form: column 1 when unknown, the namespace dropped from element names.
    private static func diagnostics(_ problems: [XMLDiagnostic], _ fileName: String) -> [CompositionDiagnostic] {
        problems.filter(\.isError).map { problem in
            CompositionDiagnostic(
                location: SourceLocation(file: fileName, line: problem.line, column: problem.column),
                message: problem.message.replacingOccurrences(of: "{\(Composition.namespace)}", with: ""))
        }
    }
}
