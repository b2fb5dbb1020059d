import XMLSupport

/// The XSD of the composition language, bundled into the binary (see ``text``).
public enum CompositionSchema {
    /// The file name the schema is shipped under in `Schemas/`.
    public static let fileName = "composition-1.xsd"

    /// The compiled schema, or why the bundled text does not compile (a build defect a test catches).
    static let compiled: Result<XMLSchema, XMLError> = Result { () throws(XMLError) in
        try XMLSchema(string: text, fileName: fileName)
    }
}
