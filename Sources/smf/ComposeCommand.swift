import ArgumentParser
import Composition
import Foundation

/// `smf compose …`: check and draw composition files; needs no running node.
struct ComposeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compose",
        abstract: "Validate composition files, draw them as Graphviz DOT, list the service types.",
        discussion: "See docs/compositions.md for the language (namespace urn:smf:composition:1).",
        subcommands: [ComposeValidateCommand.self, ComposeGraphCommand.self, ComposeTypesCommand.self, ComposeSchemaCommand.self]
    )
}

/// `smf compose validate FILE...`: XSD then semantic checks; every problem of every file, then exit 1.
struct ComposeValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check compositions against the schema and the service type catalogue.",
        discussion: """
            Prints FILE:LINE:COLUMN: error: MESSAGE for every problem (on standard error) and \
            "FILE: ok" for each valid file (on standard output). Exits 1 if any file has a problem.
            """
    )

    @Argument(help: ArgumentHelp("Composition files.", valueName: "file"))
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one composition file") }
    }

    func run() throws {
        let loader = CompositionLoader()
        var failed = false
        for file in files {
            let result = loader.load(contentsOf: file)
            if result.isValid {
                print("\(file): ok")
            } else {
                failed = true
                for diagnostic in result.diagnostics { printError(diagnostic.description) }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `smf compose graph FILE`: the composition as a Graphviz DOT digraph on standard output.
struct ComposeGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print a composition's services and wires as Graphviz DOT (render with dot -Tsvg).",
        discussion: "The file is validated first; on any problem the diagnostics are printed and the exit status is 1."
    )

    @Argument(help: ArgumentHelp("A composition file.", valueName: "file"))
    var file: String

    func run() throws {
        let result = CompositionLoader().load(contentsOf: file)
        guard let composition = result.composition, result.isValid else {
            for diagnostic in result.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
        print(CompositionGraph.dot(for: composition), terminator: "")
    }
}

/// `smf compose types`: the built-in service types with their ports and parameters.
struct ComposeTypesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "types",
        abstract: "List the service types compositions may use, with their ports and parameters."
    )

    @Argument(help: ArgumentHelp("Only these types (default: all).", valueName: "type"))
    var names: [String] = []

    func run() throws {
        let catalog = ServiceTypeCatalog.builtIn
        let unknown = names.filter { catalog[$0] == nil }
        guard unknown.isEmpty else {
            throw ValidationError("unknown service type \(unknown.joined(separator: ", ")); known: \(catalog.names.joined(separator: ", "))")
        }
        for name in names.isEmpty ? catalog.names : names {
            guard let type = catalog[name] else { continue }
            print("\(type.name)\(type.takesRules ? " (takes <rule>s)" : "")")
            print("  \(type.summary)")
            for port in type.inputs {
                print("  in  \(port.name): \(port.valueType)\(port.delivery == .state ? " state" : "") via \(port.eventPackage)\(port.isRequired ? " (must be wired)" : "")")
            }
            for port in type.outputs {
                let filters = port.filters.isEmpty ? "" : " filters: \(port.filters.joined(separator: ", "))"
                print("  out \(port.name): \(port.valueType)\(port.delivery == .state ? " state" : "") via \(port.eventPackage)\(filters)")
            }
            for parameter in type.parameters {
                print("  param \(parameter.name): \(parameter.type)\(parameter.isRequired ? " (required)" : "") - \(parameter.summary)")
            }
        }
    }
}

/// `smf compose schema`: the bundled XSD, for editors.
struct ComposeSchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the composition XSD bundled in this binary (Schemas/composition-1.xsd)."
    )

    func run() throws {
        print(CompositionSchema.text, terminator: "")
    }
}

/// Writes one line to standard error.
private func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
