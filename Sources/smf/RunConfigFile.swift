import ArgumentParser
import Foundation
import SMFNode

/// `smf run --config FILE`: the file's `key = value` lines become `smf run` options before the command line is
/// parsed (docs/cli.md "Config file").
///
/// The keys are not listed here: they are the long options `RunCommand` declares, read from ArgumentParser's own
/// description of the command, so an option added to `smf run` is a config key at once. Options given on the
/// command line replace the file's (a repeatable one replaces all of the file's values).
enum RunConfigFile {
    /// The long options of `smf run` a config file may set: every option and flag except `--config`, `--help` and
    /// `--version`. A flag with an inverse (`--discovery/--no-discovery`) is one option with both names.
    static let options: [NodeConfigFile.Option] = {
        guard let data = RunCommand._dumpHelp().data(using: .utf8),
            let dump = try? JSONDecoder().decode(HelpDump.self, from: data)
        else { return [] }
        var options: [NodeConfigFile.Option] = []
        for argument in dump.command.arguments ?? [] where argument.kind == "option" || argument.kind == "flag" {
            let names = (argument.names ?? []).filter { $0.kind == "long" }.map(\.name)
            guard !names.isEmpty, !names.contains(where: ["help", "version", "config"].contains) else { continue }
            let isFlag = argument.kind == "flag"
            // ArgumentParser describes `--x/--no-x` as two flags, `x` then `no-x`.
            if isFlag, names.count == 1, let last = options.last, last.isFlag, last.names == [String(names[0].dropFirst(3))],
                names[0].hasPrefix("no-")
            {
                options[options.count - 1].names.append(names[0])
                continue
            }
            options.append(NodeConfigFile.Option(names: names, isFlag: isFlag, isRepeating: argument.isRepeating ?? false))
        }
        return options
    }()

    /// What a config file problem exits with: 64, a command-line usage error, as for a bad option.
    static let exitCode: Int32 = 64

    /// The arguments to parse for `smf ARGUMENTS`: unchanged unless they are `run … --config FILE …`, in which case
    /// the file's options are put before the command line's, leaving out those the command line gives.
    /// - Throws: ``NodeConfigFileError`` naming the file, and the line when one is to blame (unknown key, missing
    ///   value, bad value with the option's own message); an unreadable file.
    static func expand(_ arguments: [String]) throws(NodeConfigFileError) -> [String] {
        guard arguments.first == "run" else { return arguments }
        let commandLine = Array(arguments.dropFirst())
        let options = commandLine.prefix { $0 != "--" }
        var paths: [String] = []
        for (index, token) in options.enumerated() {
            if token == "--config", index + 1 < options.count {
                paths.append(options[options.startIndex + index + 1])
            } else if token.hasPrefix("--config=") {
                paths.append(String(token.dropFirst("--config=".count)))
            }
        }
        guard let path = paths.first else { return arguments }
        guard paths.count == 1 else { throw NodeConfigFileError(path: path, line: nil, "--config is given \(paths.count) times; give one file") }
        let text = try read(path)
        let file = try NodeConfigFile(text: text, path: path)
        if let nested = file.entries.first(where: { $0.key == "config" }) {
            throw NodeConfigFileError(path: path, line: nested.line, "'config' cannot be set in a config file; give one file with --config")
        }
        let given = Set(options.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).prefix { $0 != "=" }) })
        let entries = try file.arguments(options: Self.options, omitting: given)
        let expanded = entries.flatMap(\.arguments) + commandLine
        // A value the option itself refuses is blamed on its line: each entry is parsed alone (with a stand-in
        // --data) when the whole does not parse.
        if (try? RunCommand.parse(expanded)) == nil {
            for entry in entries {
                do {
                    _ = try RunCommand.parse(["--data", "/"] + entry.arguments)
                } catch {
                    throw NodeConfigFileError(path: path, line: entry.line, "bad value for '\(entry.key)': \(RunCommand.message(for: error))")
                }
            }
        }
        return ["run"] + expanded
    }

    /// The file's text; the system's reason when it cannot be read (e.g. "No such file or directory").
    private static func read(_ path: String) throws(NodeConfigFileError) -> String {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw NodeConfigFileError(path: path, line: nil, "cannot read the config file: \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            // Foundation wraps the POSIX error (e.g. EISDIR) in a Cocoa one.
            let posix = [error as NSError, (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError].compactMap { $0 }
                .first { $0.domain == NSPOSIXErrorDomain }
            let reason = posix.map { String(cString: strerror(Int32($0.code))) } ?? error.localizedDescription
            throw NodeConfigFileError(path: path, line: nil, "cannot read the config file: \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw NodeConfigFileError(path: path, line: nil, "the config file is not UTF-8 text")
        }
        return text
    }

    /// The part of ArgumentParser's `--experimental-dump-help` JSON the keys come from.
    private struct HelpDump: Decodable {
        struct Command: Decodable {
            var arguments: [Argument]?
        }
        struct Argument: Decodable {
            var kind: String
            var names: [Name]?
            var isRepeating: Bool?
        }
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        var command: Command
    }
}
