/// An attribute of an ``XMLElement``: local name, namespace URI (nil for an unprefixed attribute) and value.
public struct XMLAttribute: Sendable, Hashable {
    /// The local name (without prefix).
    public var name: String
    /// The namespace URI, or nil for an attribute in no namespace (every unprefixed attribute).
    public var namespaceURI: String?
    /// The attribute value, after XML attribute-value normalisation.
    public var value: String

    /// Creates an attribute.
    public init(name: String, namespaceURI: String? = nil, value: String) {
        self.name = name
        self.namespaceURI = namespaceURI
        self.value = value
    }
}

/// An immutable, namespace-aware snapshot of one XML element and its element descendants.
///
/// Elements read from an ``XMLDocument`` carry their source ``line``; elements built in code for
/// ``XMLWriter`` have line 0. Equality ignores ``line`` (it records where an element came from, not what
/// it is), so a parsed document compares equal to the tree it was written from.
///
/// Mixed content is simplified: ``text`` is the concatenation of the element's own text (and CDATA)
/// children; child elements are in ``children``. Entity references other than the five predefined ones
/// are not expanded (see ``XMLDocument``) and contribute no text. Comments and processing instructions
/// are dropped.
public struct XMLElement: Sendable, Hashable, CustomStringConvertible {
    /// The local name (without prefix).
    public var name: String
    /// The namespace URI, or nil for an element in no namespace.
    public var namespaceURI: String?
    /// The attributes in document order (namespace declarations are not attributes here).
    public var attributes: [XMLAttribute]
    /// The child elements in document order.
    public var children: [XMLElement]
    /// The element's own text content (text and CDATA children, concatenated; not that of descendants).
    public var text: String
    /// The 1-based source line where the start tag ends (libxml2 records the line of its `>`), or 0 for an
    /// element built in code.
    public var line: Int

    /// Creates an element (for building documents to write).
    public init(
        name: String,
        namespaceURI: String? = nil,
        attributes: [XMLAttribute] = [],
        children: [XMLElement] = [],
        text: String = "",
        line: Int = 0
    ) {
        self.name = name
        self.namespaceURI = namespaceURI
        self.attributes = attributes
        self.children = children
        self.text = text
        self.line = line
    }

    /// The value of the attribute with this local name and namespace (nil namespace: an unprefixed attribute).
    public func attribute(_ name: String, namespaceURI: String? = nil) -> String? {
        attributes.first { $0.name == name && $0.namespaceURI == namespaceURI }?.value
    }

    /// The child elements with this local name and namespace URI.
    public func children(named name: String, namespaceURI: String?) -> [XMLElement] {
        children.filter { $0.name == name && $0.namespaceURI == namespaceURI }
    }

    /// The first child element with this local name and namespace URI.
    public func firstChild(named name: String, namespaceURI: String?) -> XMLElement? {
        children.first { $0.name == name && $0.namespaceURI == namespaceURI }
    }

    /// The text of this element and all its descendants, in document order of the elements
    /// (each element's own text before that of its children).
    public var allText: String {
        children.reduce(into: text) { $0 += $1.allText }
    }

    /// `{namespace}name` (Clark notation), handy in messages.
    public var qualifiedName: String {
        if let namespaceURI { "{\(namespaceURI)}\(name)" } else { name }
    }

    public var description: String {
        "<\(qualifiedName)> (line \(line), \(attributes.count) attributes, \(children.count) children)"
    }

    public static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        lhs.name == rhs.name && lhs.namespaceURI == rhs.namespaceURI && lhs.attributes == rhs.attributes
            && lhs.text == rhs.text && lhs.children == rhs.children
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(namespaceURI)
        hasher.combine(attributes)
        hasher.combine(text)
        hasher.combine(children)
    }
}
