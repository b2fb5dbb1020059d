public import NIOCore

/// Parses SIP messages from bytes (RFC 3261 §7, §25; framing §18.3).
///
/// The parser splits the message into its start line, header fields and body, unfolds continuation
/// lines, and checks what every element needs before it can act on a message: a well-formed start
/// line, the mandatory Via, CSeq, Call-ID, From and To (§8.1.1), a CSeq method equal to the request
/// method (§8.1.1.5), sane Max-Forwards and Content-Length values, and parseable Contact values.
/// Other header values are kept verbatim and parsed on demand by the typed accessors of
/// ``SIPHeaders``.
///
/// An unknown URI scheme in the Request-URI is not a parse error: it parses to an opaque ``SIPURI``
/// and the UA layer answers 416 (§8.2.2.1).
public struct SIPParser: Sendable {
    /// Size limits that protect the parser from hostile input.
    public struct Limits: Hashable, Sendable {
        /// Largest datagram, or largest header section on a stream, in bytes. Default 65,535.
        public var maxMessageBytes: Int = 65_535
        /// Most header fields (lines after unfolding) in one message. Default 256.
        public var maxHeaderFields: Int = 256
        /// Longest single line (start line or physical header line), in bytes. Default 8,192.
        public var maxLineLength: Int = 8_192
        /// Largest body accepted on a stream (its Content-Length), in bytes. Default 1,048,576.
        public var maxStreamBodyBytes: Int = 1_048_576

        public init() {}
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses one message received as a datagram (UDP, RFC 3261 §18.3).
    ///
    /// Content-Length is optional: without it the body is the rest of the datagram. A Content-Length
    /// larger than the bytes received is an error; a smaller one truncates the body (the extra octets
    /// are ignored).
    public func parse(datagram: ByteBuffer) throws(SIPParseError) -> SIPMessage {
        guard datagram.readableBytes <= limits.maxMessageBytes else {
            throw SIPParseError(kind: .messageTooLarge, reason: "Message Too Large", statusCode: 513)
        }
        let parsed: Result<(Head, Int)?, SIPParseError> = datagram.withUnsafeReadableBytes { raw in
            let bytes = UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count)
            do throws(SIPParseError) {
                guard let head = try parseHead(bytes[...]) else { return .success(nil) }
                return .success((head, bytes.count))
            } catch {
                return .failure(error)
            }
        }
        guard let (head, count) = try parsed.get() else {
            throw SIPParseError(kind: .truncated, reason: "Bad Request - Message ends inside the header section")
        }
        let available = count - head.bodyStart
        var bodyLength = available
        if let declared = head.contentLength {
            guard declared <= available else {
                throw SIPParseError(kind: .contentLengthMismatch, reason: "Bad Request - Content-Length larger than message")
                    .with(recovered: head.recovered)
            }
            bodyLength = declared
        }
        return head.message(body: Self.body(copying: datagram, at: datagram.readerIndex + head.bodyStart, length: bodyLength))
    }

    /// The body of a parsed message as a buffer of its own: a slice would keep the whole buffer it came from
    /// alive as long as the message, i.e. the 64 KiB a UDP read allocates (or a stream's cumulation buffer) for
    /// every request a transaction holds (32 s for a non-INVITE over UDP, RFC 3261 §17.2.2 Timer J). Small
    /// long-lived allocations made meanwhile end up between those buffers and keep their pages resident after
    /// they are freed. Empty bodies (most requests) share one empty buffer.
    static func body(copying buffer: ByteBuffer, at index: Int, length: Int) -> ByteBuffer {
        guard length > 0, let bytes = buffer.viewBytes(at: index, length: length) else { return emptyBody }
        var body = ByteBufferAllocator().buffer(capacity: length)
        body.writeBytes(bytes)
        return body
    }

    private static let emptyBody = ByteBuffer()

    // MARK: - Head

    /// The parsed start line and header section of a message.
    struct Head {
        enum StartLine {
            case request(method: SIPMethod, uri: SIPURI, version: String)
            case response(version: String, statusCode: Int, reason: String)
        }

        var startLine: StartLine
        var headers: SIPHeaders
        /// Index of the first body byte in the parsed bytes.
        var bodyStart: Int
        /// The Content-Length value, when present.
        var contentLength: Int?

        var recovered: SIPParseError.Recovered {
            if case .request = startLine {
                return SIPParseError.Recovered(isRequest: true, headers: headers)
            }
            return SIPParseError.Recovered(isRequest: false, headers: headers)
        }

        func message(body: ByteBuffer) -> SIPMessage {
            switch startLine {
            case .request(let method, let uri, let version):
                return .request(SIPRequest(method: method, uri: uri, version: version, headers: headers, body: body))
            case .response(let version, let statusCode, let reason):
                return .response(
                    SIPResponse(statusCode: statusCode, reasonPhrase: reason, version: version, headers: headers, body: body))
            }
        }
    }

    /// Index just past the blank line that ends the header section, searching from `from`, or `nil`.
    /// Accepts CRLF CRLF and (leniently) LF LF.
    static func headerEnd<B: SIPByteSlice>(_ bytes: B, from: Int) -> Int? {
        var i = Swift.max(from, bytes.startIndex)
        while i < bytes.endIndex {
            if bytes[i] == SIPGrammar.lf {
                // "\n\n" or "\n\r\n"
                if i + 1 < bytes.endIndex && bytes[i + 1] == SIPGrammar.lf { return i + 2 }
                if i + 2 < bytes.endIndex && bytes[i + 1] == SIPGrammar.cr && bytes[i + 2] == SIPGrammar.lf {
                    return i + 3
                }
            }
            i += 1
        }
        return nil
    }

    /// Which checked header a field is.
    /// Which checked header a field is; the raw values give the order of the checks.
    private enum Checked: Int {
        case via, cseq, callID, from, to, maxForwards, contentLength, contact, date
    }

    /// Parses the start line and header section. Returns `nil` when the bytes end before the blank
    /// line; throws when the head is malformed.
    func parseHead<B: SIPByteSlice>(_ bytes: B) throws(SIPParseError) -> Head? {
        var i = bytes.startIndex
        // Leading CRLFs before the start line are ignored (RFC 3261 §7.5).
        while i < bytes.endIndex && (bytes[i] == SIPGrammar.cr || bytes[i] == SIPGrammar.lf) { i += 1 }

        guard let (lineEnd, next, startControl) = nextLine(bytes, from: i) else { return nil }
        guard lineEnd - i <= limits.maxLineLength else {
            throw SIPParseError(kind: .lineTooLong, reason: "Bad Request - Start line too long")
        }
        let startResult = startControl ? controlInStartLine(bytes[i..<lineEnd]) : parseStartLine(bytes[i..<lineEnd])
        i = next

        var headers = SIPHeaders()
        headers.reserveCapacity(16)
        var checked: [(Checked, CheckedValue<B>)] = []
        checked.reserveCapacity(12)

        // The header being assembled: name bytes and value bytes (a slice, or a scratch copy when folded),
        // and its raw extent over all its lines when one of them holds a control character.
        var pendingName: B?
        var pendingValue: B = bytes[bytes.startIndex..<bytes.startIndex]
        var folded: [UInt8]?
        var pendingEnd = bytes.startIndex
        var pendingControl = false
        // The first field rejected for a control character; reported once the whole head is read.
        var controlError: SIPParseError?
        var bodyStart: Int?

        while i < bytes.endIndex {
            guard let (end, next, control) = nextLine(bytes, from: i) else { return nil }
            guard end - i <= limits.maxLineLength else {
                throw SIPParseError(kind: .lineTooLong, reason: "Bad Request - Header line too long")
            }
            let line = bytes[i..<end]
            i = next
            if line.isEmpty {
                bodyStart = next
                break
            }
            if let first = line.first, first == SIPGrammar.space || first == SIPGrammar.tab {
                // Continuation of the previous field (LWS folding, RFC 3261 §7.3.1).
                guard pendingName != nil else {
                    throw SIPParseError(kind: .malformedHeader, reason: "Bad Request - Continuation line without a header")
                }
                pendingEnd = end
                pendingControl = pendingControl || control
                let more = SIPGrammar.trimmed(line)
                if folded == nil { folded = Array(SIPGrammar.trimmed(pendingValue)) }
                if !more.isEmpty {
                    if folded?.isEmpty == false { folded?.append(SIPGrammar.space) }
                    folded?.append(contentsOf: more)
                }
                continue
            }
            if let name = pendingName {
                let raw = pendingControl ? bytes[pendingValue.startIndex..<pendingEnd] : nil
                try finishField(
                    name: name, value: pendingValue, folded: folded, raw: raw, into: &headers, checked: &checked,
                    controlError: &controlError)
            }
            guard let colon = line.firstIndex(of: SIPGrammar.colon) else {
                throw SIPParseError(kind: .malformedHeader, reason: "Bad Request - Header line without colon")
            }
            var nameEnd = colon
            while nameEnd > line.startIndex && (line[nameEnd - 1] == SIPGrammar.space || line[nameEnd - 1] == SIPGrammar.tab) {
                nameEnd -= 1
            }
            let name = line[line.startIndex..<nameEnd]
            guard SIPGrammar.isToken(name) else {
                throw SIPParseError(kind: .malformedHeader, reason: "Bad Request - Invalid header name")
            }
            pendingName = name
            pendingValue = line[(colon + 1)...]
            pendingEnd = end
            pendingControl = control
            folded = nil
        }
        if let name = pendingName {
            let raw = pendingControl ? bytes[pendingValue.startIndex..<pendingEnd] : nil
            try finishField(
                name: name, value: pendingValue, folded: folded, raw: raw, into: &headers, checked: &checked,
                controlError: &controlError)
        }
        guard let bodyStart else { return nil }

        let isRequest: Bool
        let startLine: Head.StartLine
        switch startResult {
        case .success(let line):
            startLine = line
            if case .request = line { isRequest = true } else { isRequest = false }
        case .failure(let error, let request):
            throw error.with(recovered: SIPParseError.Recovered(isRequest: request, headers: headers))
        }
        let recovered = SIPParseError.Recovered(isRequest: isRequest, headers: headers)
        if let controlError {
            throw controlError.with(recovered: recovered)
        }
        guard headers.count <= limits.maxHeaderFields else {
            throw SIPParseError(kind: .tooManyHeaders, reason: "Bad Request - Too many header fields")
        }
        do {
            let contentLength = try validate(checked, startLine: startLine)
            return Head(startLine: startLine, headers: headers, bodyStart: bodyStart, contentLength: contentLength)
        } catch {
            throw error.with(recovered: recovered)
        }
    }

    /// A checked header value: a slice of the message, or an unfolded copy.
    private enum CheckedValue<B: SIPByteSlice> {
        case borrowed(B)
        case owned(ArraySlice<UInt8>)
    }

    /// Adds a finished field to `headers` (and to `checked` when the parser checks it).
    ///
    /// `raw` is the field's value as received over all its lines, given when a line held a control
    /// character: a field whose control characters RFC 3261 §25.1 does not allow is left out and
    /// recorded in `controlError` (the first one only), so the error response can still be built
    /// from the other fields without echoing the offending bytes.
    private func finishField<B: SIPByteSlice>(
        name: B, value: B, folded: [UInt8]?, raw: B?, into headers: inout SIPHeaders,
        checked: inout [(Checked, CheckedValue<B>)], controlError: inout SIPParseError?
    ) throws(SIPParseError) {
        guard headers.count < limits.maxHeaderFields else {
            throw SIPParseError(kind: .tooManyHeaders, reason: "Bad Request - Too many header fields")
        }
        if let raw, let problem = SIPGrammar.controlProblem(inValue: raw) {
            if controlError == nil {
                let described = SIPGrammar.string(name)
                controlError = SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - \(problem) in \(described) header")
            }
            return
        }
        let trimmedValue: CheckedValue<B>
        let valueString: String
        if let folded {
            trimmedValue = .owned(folded[...])
            valueString = SIPGrammar.string(folded)
        } else {
            let slice = SIPGrammar.trimmed(value)
            trimmedValue = .borrowed(slice)
            valueString = SIPGrammar.string(slice)
        }
        let (nameString, canonical, code) = SIPHeaderNames.intern(name)
        headers.append(SIPHeaderField(name: nameString, value: valueString, canonicalName: canonical))
        let kind = Checked(rawValue: code)
        if let kind { checked.append((kind, trimmedValue)) }
    }

    /// The end of the line starting at `from` (excluding its CR LF, or a bare LF), the start of the
    /// next line, and whether the line holds a control character other than HTAB (a CR not followed
    /// by LF included; RFC 3261 §25.1 allows them only in quoted-pairs and CRLF).
    ///
    /// The control check rides on the scan for LF that finds the line end anyway: eight bytes at a
    /// time, words without a byte below 0x20 or equal to 0x7F (LF among them) are skipped, and only
    /// a flagged word is looked at byte by byte. The rare flagged line is examined by the caller.
    @inline(__always)
    private func nextLine<B: SIPByteSlice>(_ bytes: B, from: Int) -> (end: Int, next: Int, control: Bool)? {
        let found = bytes.withContiguousStorageIfAvailable { buffer -> (end: Int, next: Int, control: Bool)? in
            guard let base = buffer.baseAddress else { return nil }
            let offset = bytes.startIndex
            guard let (end, next, control) = Self.nextLine(UnsafeRawPointer(base), count: buffer.count, from: from - offset)
            else { return nil }
            return (end + offset, next + offset, control)
        }
        if let found { return found }
        // Not contiguous (no SIPByteSlice is today): the same scan one byte at a time.
        var i = from
        var firstControl = Int.max
        while i < bytes.endIndex {
            let byte = bytes[i]
            if byte < SIPGrammar.space || byte == SIPGrammar.delete {
                if byte == SIPGrammar.lf {
                    let end = (i > from && bytes[i - 1] == SIPGrammar.cr) ? i - 1 : i
                    return (end, i + 1, firstControl < end)
                }
                if byte != SIPGrammar.tab && firstControl == Int.max { firstControl = i }
            }
            i += 1
        }
        return nil
    }

    /// ``nextLine(_:from:)`` over `count` bytes at `base`, with offsets from `base`.
    @inline(__always)
    private static func nextLine(_ base: UnsafeRawPointer, count: Int, from: Int) -> (end: Int, next: Int, control: Bool)? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let deletes: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        var i = Swift.max(from, 0)
        var firstControl = Int.max
        while true {
            // Skip words holding no control byte: "has a byte < 0x20" and "has a 0x7F byte" are the
            // exact word-at-a-time tests of "Bit Twiddling Hacks" (hasless, haszero).
            while i &+ 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let below = (word &- ones &* 0x20) & ~word & highBits
                let delete = word ^ deletes
                let isDelete = (delete &- ones) & ~delete & highBits
                if below | isDelete != 0 { break }
                i &+= 8
            }
            guard i < count else { return nil }
            // Byte by byte through the flagged word (or the tail).
            let stop = Swift.min(i &+ 8, count)
            while i < stop {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                if byte < SIPGrammar.space || byte == SIPGrammar.delete {
                    if byte == SIPGrammar.lf {
                        let crlf = i > from && base.load(fromByteOffset: i &- 1, as: UInt8.self) == SIPGrammar.cr
                        let end = crlf ? i &- 1 : i
                        // The CR of the line's own CRLF is the only control allowed to end the line.
                        return (end, i &+ 1, firstControl < end)
                    }
                    if byte != SIPGrammar.tab && firstControl == Int.max { firstControl = i }
                }
                i &+= 1
            }
        }
    }

    // MARK: - Start line

    /// The error for a start line holding a control character other than HTAB: neither Method,
    /// Request-URI, SIP-Version nor Reason-Phrase allows one (RFC 3261 §25.1).
    private func controlInStartLine<B: SIPByteSlice>(_ line: B) -> StartLineResult {
        let isResponse = Self.isStatusLine(line)
        let problem: SIPGrammar.ControlProblem =
            line.contains { $0 != SIPGrammar.tab && $0 != SIPGrammar.cr && ($0 < SIPGrammar.space || $0 == SIPGrammar.delete) }
            ? .control : .bareCR
        let reason = "Bad Request - \(problem) in \(isResponse ? "Status-Line" : "Request-Line")"
        return .failure(SIPParseError(kind: .malformedStartLine, reason: reason), isRequest: !isResponse)
    }

    /// Whether a start line begins with "SIP/", so is a Status-Line (RFC 3261 §7.2).
    private static func isStatusLine<B: SIPByteSlice>(_ line: B) -> Bool {
        let s = line.startIndex
        return line.count >= 4 && line[s] == 0x53 && line[s + 1] == 0x49 && line[s + 2] == 0x50 && line[s + 3] == 0x2F
    }

    private enum StartLineResult {
        case success(Head.StartLine)
        case failure(SIPParseError, isRequest: Bool)
    }

    /// Request-Line = Method SP Request-URI SP SIP-Version (§25.1);
    /// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase.
    private func parseStartLine<B: SIPByteSlice>(_ line: B) -> StartLineResult {
        func fail(_ kind: SIPParseError.Kind, _ reason: String, status: Int = 400, request: Bool) -> StartLineResult {
            .failure(SIPParseError(kind: kind, reason: reason, statusCode: status), isRequest: request)
        }
        if Self.isStatusLine(line) {
            guard let sp1 = line.firstIndex(of: SIPGrammar.space) else {
                return fail(.malformedStartLine, "Malformed status line", request: false)
            }
            let version = line[line.startIndex..<sp1]
            if let problem = versionProblem(version) {
                return fail(problem.kind, problem.reason, status: problem.statusCode, request: false)
            }
            let codeStart = sp1 + 1
            var codeEnd = codeStart
            while codeEnd < line.endIndex && SIPGrammar.isDigit(line[codeEnd]) { codeEnd += 1 }
            guard codeEnd - codeStart == 3, let code = SIPGrammar.parseInt(line[codeStart..<codeEnd]), code >= 100, code <= 699
            else { return fail(.malformedStartLine, "Malformed status code", request: false) }
            var reason = ""
            if codeEnd < line.endIndex {
                guard line[codeEnd] == SIPGrammar.space else {
                    return fail(.malformedStartLine, "Malformed status line", request: false)
                }
                reason = SIPGrammar.string(line[(codeEnd + 1)...])
            }
            return .success(.response(version: "SIP/2.0", statusCode: code, reason: reason))
        }
        // Request line: exactly two single spaces.
        guard let sp1 = line.firstIndex(of: SIPGrammar.space),
            let sp2 = line[(sp1 + 1)...].firstIndex(of: SIPGrammar.space)
        else { return fail(.malformedStartLine, "Bad Request - Malformed request line", request: true) }
        let method = line[line.startIndex..<sp1]
        let uriBytes = line[(sp1 + 1)..<sp2]
        let version = line[(sp2 + 1)...]
        guard SIPGrammar.isToken(method) else {
            return fail(.malformedStartLine, "Bad Request - Invalid method", request: true)
        }
        guard !uriBytes.isEmpty, !version.contains(SIPGrammar.space) else {
            return fail(.malformedStartLine, "Bad Request - Malformed request line", request: true)
        }
        if let problem = versionProblem(version) {
            return fail(problem.kind, problem.reason, status: problem.statusCode, request: true)
        }
        let uri: SIPURI
        do {
            uri = try SIPURI.parse(uriBytes)
        } catch {
            return fail(.invalidURI, "Bad Request - Malformed Request-URI", request: true)
        }
        if uri.isSIP && !uri.headers.isEmpty {
            // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1, table 1; RFC 4475 §3.1.2.11).
            return fail(.invalidURI, "Bad Request - Request-URI must not contain headers", request: true)
        }
        return .success(.request(method: SIPMethod(SIPGrammar.string(method)), uri: uri, version: "SIP/2.0"))
    }

    /// `nil` for SIP/2.0 (case-insensitive), a 505 error for another SIP version, 400 otherwise.
    private func versionProblem<B: SIPByteSlice>(_ version: B) -> SIPParseError? {
        if version.count == 7 {
            let s = version.startIndex
            if (version[s] | 0x20) == 0x73, (version[s + 1] | 0x20) == 0x69, (version[s + 2] | 0x20) == 0x70,
                version[s + 3] == 0x2F, version[s + 4] == 0x32, version[s + 5] == 0x2E, version[s + 6] == 0x30
            {
                return nil
            }
        }
        let digitsDotDigits = version.dropFirst(4)
        if version.count > 4 && version.prefix(4).elementsEqual("SIP/".utf8),
            let dot = digitsDotDigits.firstIndex(of: 0x2E), dot > digitsDotDigits.startIndex, dot < digitsDotDigits.endIndex - 1,
            digitsDotDigits.allSatisfy({ SIPGrammar.isDigit($0) || $0 == 0x2E })
        {
            return SIPParseError(kind: .unsupportedVersion, reason: "Version Not Supported", statusCode: 505)
        }
        return SIPParseError(kind: .malformedStartLine, reason: "Bad Request - Malformed SIP version")
    }

    // MARK: - Validation

    /// Checks the headers every element relies on; returns the Content-Length when present.
    private func validate<B: SIPByteSlice>(
        _ checked: [(Checked, CheckedValue<B>)], startLine: Head.StartLine
    ) throws(SIPParseError) -> Int? {
        var counts = (0, 0, 0, 0, 0, 0, 0)  // via, cseq, call-id, from, to, max-forwards, content-length
        for (kind, _) in checked {
            switch kind {
            case .via: counts.0 += 1
            case .cseq: counts.1 += 1
            case .callID: counts.2 += 1
            case .from: counts.3 += 1
            case .to: counts.4 += 1
            case .maxForwards: counts.5 += 1
            case .contentLength: counts.6 += 1
            case .contact, .date: break
            }
        }
        func missing(_ name: String) -> SIPParseError {
            SIPParseError(kind: .missingHeader, reason: "Bad Request - Missing \(name)")
        }
        func invalid(_ name: String) -> SIPParseError {
            SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - Malformed \(name)")
        }
        func multiple(_ name: String) -> SIPParseError {
            SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - Multiple \(name) header fields")
        }
        guard counts.0 > 0 else { throw missing("Via") }
        guard counts.1 > 0 else { throw missing("CSeq") }
        guard counts.2 > 0 else { throw missing("Call-ID") }
        guard counts.3 > 0 else { throw missing("From") }
        guard counts.4 > 0 else { throw missing("To") }
        guard counts.1 == 1 else { throw multiple("CSeq") }
        guard counts.2 == 1 else { throw multiple("Call-ID") }
        guard counts.3 == 1 else { throw multiple("From") }
        guard counts.4 == 1 else { throw multiple("To") }
        guard counts.5 <= 1 else { throw multiple("Max-Forwards") }
        guard counts.6 <= 1 else { throw multiple("Content-Length") }

        var cseq: SIPCSeq?
        var contentLength: Int?
        // Check in a fixed order so the reported reason does not depend on header order.
        for order in 0..<9 {
            let wanted = Checked(rawValue: order) ?? .date
            for (kind, value) in checked where kind == wanted {
                switch value {
                case .borrowed(let bytes): try check(kind, bytes, cseq: &cseq, contentLength: &contentLength)
                case .owned(let bytes): try check(kind, bytes, cseq: &cseq, contentLength: &contentLength)
                }
            }
        }
        if case .request(let method, _, _) = startLine, let cseq, cseq.method != method {
            throw SIPParseError(kind: .methodMismatch, reason: "Bad Request - CSeq method does not match request method")
        }
        return contentLength
    }

    private func check<V: SIPByteSlice>(
        _ kind: Checked, _ value: V, cseq: inout SIPCSeq?, contentLength: inout Int?
    ) throws(SIPParseError) {
        func invalid(_ name: String) -> SIPParseError {
            SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - Malformed \(name)")
        }
        switch kind {
        case .via:
            var at = value.startIndex
            while at <= value.endIndex {
                guard let (part, next) = SIPGrammar.nextPart(value, from: at, separator: SIPGrammar.comma),
                    SIPVia.parse(part, materialize: false) != nil
                else { throw invalid("Via") }
                at = next
            }
        case .cseq:
            guard let parsed = SIPCSeq.parse(value) else { throw invalid("CSeq") }
            cseq = parsed
        case .callID:
            guard !value.isEmpty, !value.contains(where: SIPGrammar.isWhitespace) else { throw invalid("Call-ID") }
        case .from:
            guard SIPNameAddress.parse(value, materialize: false) != nil else { throw invalid("From") }
        case .to:
            guard SIPNameAddress.parse(value, materialize: false) != nil else { throw invalid("To") }
        case .maxForwards:
            guard SIPGrammar.parseInt(value, max: 255) != nil else { throw invalid("Max-Forwards") }
        case .contentLength:
            guard let length = SIPGrammar.parseInt(value) else {
                throw SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - Invalid Content-Length")
            }
            contentLength = length
        case .contact:
            if value.count == 1 && value.first == 0x2A { return }  // "*"
            var at = value.startIndex
            while at <= value.endIndex {
                guard let (part, next) = SIPGrammar.nextPart(value, from: at, separator: SIPGrammar.comma),
                    SIPNameAddress.parse(part, materialize: false) != nil
                else { throw invalid("Contact") }
                at = next
            }
        case .date:
            // rfc1123-date ends in "GMT", the only zone RFC 3261 §20.17 allows.
            guard value.count > 3, value.suffix(3).elementsEqual("GMT".utf8) else {
                throw SIPParseError(kind: .invalidHeaderValue, reason: "Bad Request - Date must be in GMT")
            }
        }
    }
}
