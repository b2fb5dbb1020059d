/// Interning of well-known header names, so the parser does not allocate a `String` for the name
/// or its canonical form of common headers (RFC 3261 §7.3, §20).
enum SIPHeaderNames {
    struct Entry {
        let bytes: [UInt8]
        let spelling: String
        let canonical: String
        let code: Int
    }

    /// Codes for the headers the parser checks (see `SIPParser.Checked`); -1 for any other.
    static func code(canonical: String) -> Int {
        switch canonical {
        case "via": 0
        case "cseq": 1
        case "call-id": 2
        case "from": 3
        case "to": 4
        case "max-forwards": 5
        case "content-length": 6
        case "contact": 7
        case "date": 8
        default: -1
        }
    }

    /// Known names indexed by their byte length.
    static let byLength: [[Entry]] = {
        let spellings = [
            "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length", "Content-Type",
            "Route", "Record-Route", "Expires", "Event", "Subscription-State", "Allow", "Supported", "User-Agent",
            "Accept", "Allow-Events", "SIP-ETag", "SIP-If-Match", "Authorization", "WWW-Authenticate",
            "Proxy-Authenticate", "Proxy-Authorization", "Require", "Server", "Date", "Subject", "Content-Encoding",
            "Min-Expires", "Retry-After", "Timestamp", "Unsupported", "Warning", "Accept-Encoding",
            "Accept-Language", "Content-Disposition", "Organization", "Priority", "Reply-To", "In-Reply-To",
            "Proxy-Require", "Alert-Info", "Call-Info", "Error-Info", "MIME-Version", "Content-Language",
            "Refer-To", "Referred-By", "Session-Expires", "Min-SE", "Path", "Service-Route", "Reason",
            "Identity", "Content-Transfer-Encoding",
        ]
        var table = [[Entry]](repeating: [], count: 32)
        for spelling in spellings {
            let bytes = Array(spelling.utf8)
            let canonical = spelling.lowercased()
            table[bytes.count].append(Entry(bytes: bytes, spelling: spelling, canonical: canonical, code: code(canonical: canonical)))
        }
        return table
    }()

    /// The name as received and its canonical (lower-case long) form.
    static func intern<B: SIPByteSlice>(_ bytes: B) -> (name: String, canonical: String, code: Int) {
        let count = bytes.count
        if count == 1 {
            let name = SIPGrammar.string(bytes)
            let canonical = SIPHeaders.canonicalName(name)
            return (name, canonical, code(canonical: canonical))
        }
        if count < byLength.count {
            for entry in byLength[count] {
                var exact = true
                var matches = true
                var j = 0
                for byte in bytes {
                    let known = entry.bytes[j]
                    if byte != known {
                        exact = false
                        if (byte | 0x20) != (known | 0x20) || !SIPGrammar.isAlpha(byte) {
                            matches = false
                            break
                        }
                    }
                    j += 1
                }
                if matches {
                    return (exact ? entry.spelling : SIPGrammar.string(bytes), entry.canonical, entry.code)
                }
            }
        }
        let name = SIPGrammar.string(bytes)
        let canonical = SIPHeaders.canonicalName(name)
        return (name, canonical, code(canonical: canonical))
    }
}
