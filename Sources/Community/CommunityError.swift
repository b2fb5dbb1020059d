import Overlay

/// Why a community operation, a token, a certificate or a signed statement was refused.
///
/// Every message names what is wrong: the expiry time of an expired token, the part of a malformed
/// one, the community a foreign token belongs to.
public struct CommunityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// The text or bytes could not be decoded; the message names the part.
        case malformed
        /// The version prefix or version byte is not one this node understands.
        case wrongVersion
        /// A token, certificate or statement is past its expiry.
        case expired
        /// A certificate is not valid yet (issued in the future).
        case notYetValid
        /// The object belongs to another community.
        case foreign
        /// A signature does not verify.
        case badSignature
        /// An invitation's single-use nonce was already redeemed.
        case nonceAlreadyUsed
        /// The member (or key) was revoked.
        case revoked
        /// The member who issued or signed the object was revoked.
        case revokedIssuer
        /// The signer's role does not allow the operation (e.g. a plain member admitting someone).
        case notAllowed
        /// A certificate chain does not lead to the community's founding key.
        case untrustedChain
        /// A name (community or sub-community) is not acceptable.
        case invalidName
        /// A key file could not be read, written or has unsafe permissions.
        case keyFile
    }

    /// The kind of failure.
    public let code: Code
    /// What is wrong, in words.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func malformed(_ part: String, _ detail: String) -> CommunityError {
        CommunityError(.malformed, "malformed \(part): \(detail)")
    }
}

extension OverlayInstant {
    /// The instant as UTC ISO 8601 text with milliseconds, e.g. `2026-11-23T08:00:00.000Z`, for messages.
    ///
    /// Computed from the civil-from-days algorithm so no clock or locale is involved.
    var iso8601: String {
        let ms = milliseconds
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(msOfDay / 3_600_000, 2)):"
            + "\(pad(msOfDay / 60_000 % 60, 2)):\(pad(msOfDay / 1000 % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }
}
