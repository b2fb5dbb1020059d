/// Serialises an ``XMLElement`` tree to a UTF-8 XML document string, escaping text and attribute values
/// and declaring namespaces.
///
/// Namespaces: the root element's namespace becomes the default namespace (`xmlns="…"`); every other
/// namespace gets a prefix, from ``preferredPrefixes`` when given there (e.g. `rpid` for RFC 4480),
/// otherwise `ns1`, `ns2`, …, and all prefixed namespaces are declared on the root element. An element in
/// no namespace below a default namespace gets `xmlns=""`. Output is compact (no indentation is added, so
/// ``XMLElement/text`` survives a round trip unchanged).
///
/// Escaping: `&`, `<`, `>` in text; additionally `"` and tab, line feed and carriage return in attribute
/// values (as character references, so attribute-value normalisation keeps them); carriage return in text
/// too. Characters XML 1.0 cannot carry (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF) are refused.
public struct XMLWriter: Sendable {
    /// Prefixes to use for namespace URIs (URI → prefix). `xml` and `xmlns` are never used from here.
    public var preferredPrefixes: [String: String]
    /// Whether to start with `<?xml version="1.0" encoding="UTF-8"?>`.
    public var includesDeclaration: Bool

    /// Creates a writer.
    public init(preferredPrefixes: [String: String] = [:], includesDeclaration: Bool = true) {
        self.preferredPrefixes = preferredPrefixes
        self.includesDeclaration = includesDeclaration
    }

    /// The namespace bound to the `xml` prefix by definition (never declared).
    static let xmlNamespace = "http://www.w3.org/XML/1998/namespace"

    /// Serialises `root` as a complete document.
    ///
    /// - Throws: ``XMLError`` with code ``XMLError/Code/invalidName`` for a name that is not an NCName,
    ///   or ``XMLError/Code/unrepresentableCharacter`` for text XML 1.0 cannot carry.
    public func string(for root: XMLElement) throws(XMLError) -> String {
        var prefixes: [String: String] = [:]  // URI → prefix, for non-default namespaces
        var declarations: [(prefix: String, uri: String)] = []
        var used: Set<String> = ["xml", "xmlns"]
        var counter = 0

        func bindPrefix(for uri: String) {
            guard uri != Self.xmlNamespace, prefixes[uri] == nil else { return }
            var prefix = preferredPrefixes[uri] ?? ""
            if !isNCName(prefix) || used.contains(prefix.lowercased()) || prefix.lowercased().hasPrefix("xml") {
                repeat {
                    counter += 1
                    prefix = "ns\(counter)"
                } while used.contains(prefix)
            }
            used.insert(prefix.lowercased())
            prefixes[uri] = prefix
            declarations.append((prefix, uri))
        }

        func collect(_ element: XMLElement) throws(XMLError) {
            try checkName(element.name)
            if let uri = element.namespaceURI, uri != root.namespaceURI { bindPrefix(for: uri) }
            for attribute in element.attributes {
                try checkName(attribute.name)
                if let uri = attribute.namespaceURI { bindPrefix(for: uri) }
            }
            for child in element.children { try collect(child) }
        }
        try collect(root)
        // An attribute in the root's namespace needs a prefix even though elements use the default.
        if let rootURI = root.namespaceURI, prefixes[rootURI] == nil, usesAsAttributeNamespace(rootURI, in: root) {
            bindPrefix(for: rootURI)
        }

        var output = includesDeclaration ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        try write(
            root, into: &output, defaultNamespace: nil, prefixes: prefixes, rootDeclarations: declarations,
            rootNamespace: root.namespaceURI)
        return output
    }

    private func usesAsAttributeNamespace(_ uri: String, in element: XMLElement) -> Bool {
        element.attributes.contains { $0.namespaceURI == uri }
            || element.children.contains { usesAsAttributeNamespace(uri, in: $0) }
    }

    private func write(
        _ element: XMLElement, into output: inout String, defaultNamespace: String?, prefixes: [String: String],
        rootDeclarations: [(prefix: String, uri: String)]?, rootNamespace: String?
    ) throws(XMLError) {
        var inScopeDefault = defaultNamespace
        var tagName = element.name
        var declarations = ""

        if let uri = element.namespaceURI {
            if uri == inScopeDefault {
                // unprefixed
            } else if uri == rootNamespace {
                declarations += " xmlns=\"\(try escapeAttribute(uri))\""
                inScopeDefault = uri
            } else if uri == Self.xmlNamespace {
                tagName = "xml:\(element.name)"
            } else if let prefix = prefixes[uri] {
                tagName = "\(prefix):\(element.name)"
            }
        } else if inScopeDefault != nil {
            declarations += " xmlns=\"\""
            inScopeDefault = nil
        }
        for (prefix, uri) in rootDeclarations ?? [] {
            declarations += " xmlns:\(prefix)=\"\(try escapeAttribute(uri))\""
        }

        output += "<\(tagName)\(declarations)"
        for attribute in element.attributes {
            var name = attribute.name
            if let uri = attribute.namespaceURI {
                if uri == Self.xmlNamespace {
                    name = "xml:\(attribute.name)"
                } else if let prefix = prefixes[uri] {
                    name = "\(prefix):\(attribute.name)"
                }
            }
            output += " \(name)=\"\(try escapeAttribute(attribute.value))\""
        }
        if element.text.isEmpty && element.children.isEmpty {
            output += "/>"
            return
        }
        output += ">"
        output += try escapeText(element.text)
        for child in element.children {
            try write(
                child, into: &output, defaultNamespace: inScopeDefault, prefixes: prefixes, rootDeclarations: nil,
                rootNamespace: rootNamespace)
        }
        output += "</\(tagName)>"
    }
}

// MARK: - Escaping and names

/// Escapes text content: `&`, `<`, `>` and carriage return.
func escapeText(_ text: String) throws(XMLError) -> String {
    try escape(text, inAttribute: false)
}

/// Escapes an attribute value (double-quoted): also `"`, tab and line feed.
func escapeAttribute(_ text: String) throws(XMLError) -> String {
    try escape(text, inAttribute: true)
}

private func escape(_ text: String, inAttribute: Bool) throws(XMLError) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\r": result += "&#13;"
        case "\"" where inAttribute: result += "&quot;"
        case "\t" where inAttribute: result += "&#9;"
        case "\n" where inAttribute: result += "&#10;"
        case "\t", "\n": result.unicodeScalars.append(scalar)
        default:
            guard scalar.value >= 0x20, scalar.value != 0xFFFE, scalar.value != 0xFFFF else {
                throw XMLError(
                    .unrepresentableCharacter, fileName: nil,
                    detail: "U+\(String(scalar.value, radix: 16, uppercase: true))")
            }
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

private func checkName(_ name: String) throws(XMLError) {
    guard isNCName(name) else { throw XMLError(.invalidName, fileName: nil, detail: "\"\(name)\"") }
}

/// Whether `name` is an XML NCName (a name without a colon), per Namespaces in XML 1.0 §3.
func isNCName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, isNameStart(first) else { return false }
    return name.unicodeScalars.dropFirst().allSatisfy { isNameStart($0) || isNameChar($0) }
}

/// NameStartChar of XML 1.0 (5th ed.) §2.3, without ":".
private func isNameStart(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x41...0x5A, 0x61...0x7A, 0x5F: true
    case 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D, 0x37F...0x1FFF, 0x200C...0x200D,
        0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF, 0xF900...0xFDCF, 0xFDF0...0xFFFD, 0x10000...0xEFFFF:
        true
    default: false
    }
}

/// The extra NameChar characters of XML 1.0 (5th ed.) §2.3.
private func isNameChar(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x2D, 0x2E, 0x30...0x39, 0xB7, 0x300...0x36F, 0x203F...0x2040: true
    default: false
    }
}
