/// The XML namespaces of the PIDF vocabularies this module reads and writes.
public enum PresenceNamespace {
    /// PIDF, RFC 3863 §4.
    public static let pidf = "urn:ietf:params:xml:ns:pidf"
    /// The presence data model (`<dm:person>`), RFC 4479 §6.2.
    public static let dataModel = "urn:ietf:params:xml:ns:pidf:data-model"
    /// Rich presence (`<rpid:activities>`), RFC 4480 §4.2.
    public static let rpid = "urn:ietf:params:xml:ns:pidf:rpid"
    /// The GEOPRIV location object (`<gp:geopriv>`), RFC 4119 §2.2.
    public static let geopriv = "urn:ietf:params:xml:ns:pidf:geopriv10"
    /// The basic location policy of `<gp:usage-rules>`, RFC 4119 §2.2.7.
    public static let geoprivBasicPolicy = "urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
    /// GML 3.1.1 (`<gml:Point>`, `<gml:pos>`), as profiled by RFC 5491 §5.
    public static let gml = "http://www.opengis.net/gml"
    /// The PIDF-LO geo shapes (`<gs:Circle>`, `<gs:Sphere>`), RFC 5491 §5.2.
    public static let geoShape = "http://www.opengis.net/pidflo/1.0"
    /// The namespace of `xml:lang` (bound by definition, never declared).
    public static let xml = "http://www.w3.org/XML/1998/namespace"

    /// The namespace of the draft PIDF that some early clients still send (`cpim-pidf`); read like ``pidf``.
    static let cpimPIDF = "urn:ietf:params:xml:ns:cpim-pidf"

    /// The prefixes the encoder uses: the ones RFCs 4479/4480/4119/5491 use in their examples, and the
    /// ones baresip and Kamailio emit and (in baresip's case) match literally, e.g. `<rpid:busy/>`.
    static let preferredPrefixes: [String: String] = [
        dataModel: "dm",
        rpid: "rpid",
        geopriv: "gp",
        geoprivBasicPolicy: "gbp",
        gml: "gml",
        geoShape: "gs",
    ]
}
