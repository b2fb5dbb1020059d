/// A node's config file (`smf run --config FILE`, docs/cli.md): one `key = value` per line, where each key is a long
/// option of `smf run` without its dashes.
///
/// The syntax is a subset of TOML, so a TOML editor or linter reads these files:
/// - `# comment` lines, and `#` after a value; blank lines.
/// - `key = value`, the value bare (`data = /var/lib/smf`), double-quoted with `\\`, `\"`, `\n`, `\t` escapes, or
///   single-quoted (literal).
/// - A repeatable option takes several lines with the same key, or one array `listen = ["udp:…", "tcp:…"]`.
/// - A flag takes `true` or `false`.
///
/// ``NodeConfigFile`` only reads the text and checks it against the options it is given; turning entries into
/// command-line arguments and merging them with the command line is ``arguments(options:omitting:)``.
public struct NodeConfigFile: Sendable, Hashable {
    /// One `key = value` line (or several values, from an array).
    public struct Entry: Sendable, Hashable {
        /// The key as written (underscores read as dashes).
        public var key: String
        /// The values, in order (one, unless the line held an array).
        public var values: [String]
        /// The 1-based line number.
        public var line: Int
    }

    /// An option the file may set: its long names (the first is the key to use), and whether it is a flag or can
    /// be repeated.
    public struct Option: Sendable, Hashable {
        /// Long names without dashes, e.g. `["listen"]`, or `["discovery", "no-discovery"]` for a flag with an
        /// inverse.
        public var names: [String]
        /// A flag takes `true`/`false`, not a value.
        public var isFlag: Bool
        /// Repeatable: several lines or an array.
        public var isRepeating: Bool

        public init(names: [String], isFlag: Bool, isRepeating: Bool) {
            self.names = names
            self.isFlag = isFlag
            self.isRepeating = isRepeating
        }
    }

    /// The file's name, as used in messages.
    public var path: String
    /// The entries, in file order.
    public var entries: [Entry]

    /// Reads `text` (the content of `path`).
    /// - Throws: ``NodeConfigFileError`` naming the line: no `=`, no key, no value, an unterminated string, a TOML
    ///   table header.
    public init(text: String, path: String) throws(NodeConfigFileError) {
        self.path = path
        entries = []
        var number = 0
        // "\r\n" is one Character in Swift, a newline like "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let trimmed = line.trimmingWhitespace
            if trimmed.isEmpty || trimmed.first == "#" { continue }
            if trimmed.first == "[" {
                throw NodeConfigFileError(path: path, line: number, "tables such as \(trimmed) are not supported; write key = value lines")
            }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw NodeConfigFileError(path: path, line: number, "expected key = value, found '\(trimmed)'")
            }
            let key = trimmed[..<equals].trimmingWhitespace
            guard !key.isEmpty else { throw NodeConfigFileError(path: path, line: number, "a value without a key") }
            guard key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw NodeConfigFileError(path: path, line: number, "'\(key)' is not a key (letters, digits, - and _)")
            }
            let name = key.lowercased().replacingUnderscores
            var reader = ValueReader(text: trimmed[trimmed.index(after: equals)...])
            let values: [String]
            do throws(ValueReader.Problem) {
                values = try reader.readValue()
                try reader.expectEnd()
            } catch {
                throw NodeConfigFileError(path: path, line: number, error.message(key: name))
            }
            entries.append(Entry(key: name, values: values, line: number))
        }
    }

    /// The command-line arguments the entries stand for (`--key value` per value; `--flag` for a flag set true),
    /// each with its line, leaving out entries for options in `omitting` (options the command line gives, which
    /// replace the file's values).
    /// - Parameters:
    ///   - options: the options a file may set.
    ///   - omitting: long names (any of an option's names) whose entries are dropped.
    /// - Throws: ``NodeConfigFileError`` naming the line: an unknown key (with the nearest known one), a flag that
    ///   is not `true`/`false`, several values for a single-value option, a missing value.
    public func arguments(options: [Option], omitting: Set<String> = []) throws(NodeConfigFileError) -> [(line: Int, key: String, arguments: [String])] {
        var byName: [String: Option] = [:]
        for option in options {
            for name in option.names { byName[name] = option }
        }
        var firstLine: [[String]: Int] = [:]
        var result: [(line: Int, key: String, arguments: [String])] = []
        for entry in entries {
            guard let option = byName[entry.key] else {
                let suggestion = Self.nearest(to: entry.key, among: Array(byName.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                throw NodeConfigFileError(
                    path: path, line: entry.line, "unknown key '\(entry.key)'\(suggestion); the keys are the long options of smf run")
            }
            if option.isFlag {
                guard entry.values.count == 1, let value = entry.values.first, let enabled = Bool(value.lowercased()) else {
                    throw NodeConfigFileError(path: path, line: entry.line, "'\(entry.key)' is a flag: give true or false")
                }
                if let earlier = firstLine[option.names] {
                    throw NodeConfigFileError(path: path, line: entry.line, "'\(entry.key)' is set twice (first on line \(earlier))")
                }
                firstLine[option.names] = entry.line
                if option.names.contains(where: omitting.contains) { continue }
                // `x = false` for a flag with an inverse `no-x` gives `--no-x` (and `no-x = false` gives `--x`).
                let inverse = option.names.first { $0 != entry.key && ($0 == "no-" + entry.key || entry.key == "no-" + $0) }
                if enabled {
                    result.append((entry.line, entry.key, ["--" + entry.key]))
                } else if let inverse {
                    result.append((entry.line, entry.key, ["--" + inverse]))
                }
                continue
            }
            guard !entry.values.isEmpty || option.isRepeating else {
                throw NodeConfigFileError(path: path, line: entry.line, "missing value for '\(entry.key)'")
            }
            if !option.isRepeating {
                guard entry.values.count == 1 else {
                    throw NodeConfigFileError(path: path, line: entry.line, "'\(entry.key)' takes one value, not a list")
                }
                if let earlier = firstLine[option.names] {
                    throw NodeConfigFileError(path: path, line: entry.line, "'\(entry.key)' is set twice (first on line \(earlier))")
                }
                firstLine[option.names] = entry.line
            }
            if option.names.contains(where: omitting.contains) { continue }
            result.append((entry.line, entry.key, entry.values.flatMap { ["--" + entry.key, $0] }))
        }
        return result
    }

    /// The known name closest to `key` by edit distance, if it is close enough to be a likely typo.
    static func nearest(to key: String, among names: [String]) -> String? {
        let scored = names.map { (name: $0, distance: editDistance(key, $0)) }
        guard let best = scored.min(by: { ($0.distance, $0.name) < ($1.distance, $1.name) }) else { return nil }
        if best.distance <= max(2, key.count / 3) { return best.name }
        return names.filter { $0.contains(key) || key.contains($0) }.min { $0.count < $1.count }
    }

    /// Levenshtein distance.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs)
        let b = Array(rhs)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// A config file problem: the file, the line (when one is to blame) and what is wrong.
public struct NodeConfigFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's name.
    public var path: String
    /// The 1-based line, when one line is to blame.
    public var line: Int?
    /// What is wrong.
    public var message: String

    public init(path: String, line: Int?, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `FILE:LINE: message` (or `FILE: message`), the form compilers use, so editors jump to the line.
    public var description: String {
        line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)"
    }
}

/// Reads the value part of one line: bare, quoted or an array of those, then an optional comment.
private struct ValueReader {
    enum Problem: Error {
        case missingValue
        case unterminatedString
        case badEscape(Character)
        case unterminatedArray
        case trailing(String)

        func message(key: String) -> String {
            switch self {
            case .missingValue: "missing value for '\(key)'"
            case .unterminatedString: "unterminated string in the value of '\(key)'"
            case .badEscape(let character): "unknown escape \\\(character) in the value of '\(key)' (use \\\\, \\\", \\n or \\t)"
            case .unterminatedArray: "unterminated array in the value of '\(key)' (arrays end with ] on the same line)"
            case .trailing(let text): "unexpected '\(text)' after the value of '\(key)'"
            }
        }
    }

    var text: Substring

    mutating func skipSpaces() {
        text = text.drop { $0 == " " || $0 == "\t" }
    }

    /// One value, or the items of an array.
    mutating func readValue() throws(Problem) -> [String] {
        skipSpaces()
        guard let first = text.first, first != "#" else { throw .missingValue }
        guard first == "[" else { return [try readScalar(inArray: false)] }
        text = text.dropFirst()
        var items: [String] = []
        while true {
            skipSpaces()
            guard let next = text.first, next != "#" else { throw .unterminatedArray }
            if next == "]" {
                text = text.dropFirst()
                return items
            }
            items.append(try readScalar(inArray: true))
            skipSpaces()
            if text.first == "," {
                text = text.dropFirst()
            } else if text.first != "]" {
                throw .unterminatedArray
            }
        }
    }

    /// A quoted string, or bare text up to a comment (or, in an array, up to `,` or `]`).
    mutating func readScalar(inArray: Bool) throws(Problem) -> String {
        switch text.first {
        case "\"":
            text = text.dropFirst()
            var value = ""
            while let character = text.first {
                text = text.dropFirst()
                switch character {
                case "\"": return value
                case "\\":
                    guard let escaped = text.first else { throw .unterminatedString }
                    text = text.dropFirst()
                    switch escaped {
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    default: throw .badEscape(escaped)
                    }
                default: value.append(character)
                }
            }
            throw .unterminatedString
        case "'":
            text = text.dropFirst()
            guard let close = text.firstIndex(of: "'") else { throw .unterminatedString }
            let value = String(text[..<close])
            text = text[text.index(after: close)...]
            return value
        default:
            let end = text.firstIndex { $0 == "#" || (inArray && ($0 == "," || $0 == "]")) } ?? text.endIndex
            let value = text[..<end].trimmingWhitespace
            text = text[end...]
            guard !value.isEmpty else { throw .missingValue }
            return String(value)
        }
    }

    /// Only spaces and a comment may follow the value.
    mutating func expectEnd() throws(Problem) {
        skipSpaces()
        guard let first = text.first, first != "#" else { return }
        throw .trailing(String(text.trimmingWhitespace))
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: Substring {
        let view = Substring(self)
        let start = view.firstIndex { $0 != " " && $0 != "\t" } ?? view.endIndex
        let end = view.lastIndex { $0 != " " && $0 != "\t" }.map { view.index(after: $0) } ?? start
        return view[start..<Swift.max(start, end)]
    }

    fileprivate var replacingUnderscores: String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
