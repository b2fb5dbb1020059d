/// Placeholder until the parser work lands.
public struct SIPURI: Hashable, Sendable {
    public var raw: String
    public init(raw: String) { self.raw = raw }
}
extension SIPResponse {
    public static func defaultReasonPhrase(for code: Int) -> String { "Unknown" }
}
