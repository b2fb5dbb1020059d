public import SIPSyntax

/// What identifies a dialog at one user agent: Call-ID, local tag and remote tag (RFC 3261 §12).
///
/// The same dialog has mirrored IDs at its two ends: the local tag of one is the remote tag of
/// the other.
public struct SIPDialogID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var callID: String
    public var localTag: String
    public var remoteTag: String

    public init(callID: String, localTag: String, remoteTag: String) {
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
    }

    /// The ID of a request this UA received: local tag = To tag, remote tag = From tag
    /// (RFC 3261 §12.2.2). `nil` when Call-ID or a tag is missing (an out-of-dialog request).
    public static func ofReceivedRequest(_ request: SIPRequest) -> SIPDialogID? {
        guard let callID = request.headers.callID, let local = request.headers.to?.tag,
            let remote = request.headers.from?.tag
        else { return nil }
        return SIPDialogID(callID: callID, localTag: local, remoteTag: remote)
    }

    /// The ID of a response to a request this UA sent: local tag = From tag, remote tag = To tag
    /// (RFC 3261 §12.1.2). `nil` when Call-ID or a tag is missing.
    public static func ofReceivedResponse(_ response: SIPResponse) -> SIPDialogID? {
        guard let callID = response.headers.callID, let local = response.headers.from?.tag,
            let remote = response.headers.to?.tag
        else { return nil }
        return SIPDialogID(callID: callID, localTag: local, remoteTag: remote)
    }

    public var description: String { "\(callID);local=\(localTag);remote=\(remoteTag)" }
}

/// Why a message could not create or continue a dialog (RFC 3261 §12).
public struct SIPDialogError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case missingCallID
        case missingFromTag
        case missingToTag
        case missingHeader
        case missingContact
        case missingCSeq
        case notInDialog
        case cseqOutOfOrder
    }

    private let code: Code
    /// What was wrong, for logs.
    public let detail: String
    /// The status code a UAS answers the offending request with.
    public let statusCode: Int

    private init(_ code: Code, _ statusCode: Int, _ detail: String) {
        self.code = code
        self.statusCode = statusCode
        self.detail = detail
    }

    /// The message has no Call-ID (RFC 3261 §8.1.1.4).
    public static let missingCallID = SIPDialogError(.missingCallID, 400, "the message has no Call-ID header")
    /// The From header is missing, malformed or has no tag (RFC 3261 §8.1.1.3).
    public static let missingFromTag = SIPDialogError(.missingFromTag, 400, "the From header is missing, malformed or has no tag")
    /// The To header of a dialog-creating response is missing, malformed or has no tag (§12.1.2).
    public static let missingToTag = SIPDialogError(.missingToTag, 400, "the To header is missing, malformed or has no tag")
    /// From or To is missing or malformed.
    public static let missingHeader = SIPDialogError(.missingHeader, 400, "the From or To header is missing or malformed")
    /// The message that creates the dialog has no usable Contact (RFC 3261 §12.1.1, §12.1.2).
    public static let missingContact = SIPDialogError(.missingContact, 400, "the message has no usable Contact header for the remote target")
    /// The request has no parseable CSeq (RFC 3261 §8.1.1.5).
    public static let missingCSeq = SIPDialogError(.missingCSeq, 400, "the request has no parseable CSeq header")
    /// The request does not belong to this dialog (RFC 3261 §12.2.2: 481).
    public static let notInDialog = SIPDialogError(.notInDialog, 481, "the request does not match this dialog")
    /// The CSeq number is lower than the remote sequence number (RFC 3261 §12.2.2: 500).
    public static let cseqOutOfOrder = SIPDialogError(.cseqOutOfOrder, 500, "the CSeq number is lower than the last one received in this dialog")

    public var description: String { "SIPDialogError(\(statusCode)): \(detail)" }

    public static func == (lhs: SIPDialogError, rhs: SIPDialogError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// The state of one dialog at one user agent (RFC 3261 §12): its ID, the local and remote URIs,
/// the remote target, the route set, the two sequence numbers and whether it is secure.
///
/// A plain value: save it (it is `Codable`) and restore it, and requests built afterwards continue
/// from the saved local CSeq. The Via header is not part of a dialog; whoever sends a request from
/// ``makeRequest(method:)`` adds a top Via with a fresh branch (it knows the transport).
public struct SIPDialog: Hashable, Sendable {
    public let id: SIPDialogID
    /// The local URI (our From in requests we send), without tag (RFC 3261 §12.1.1).
    public var localURI: SIPURI
    /// The remote URI (our To in requests we send), without tag.
    public var remoteURI: SIPURI
    /// Where in-dialog requests go: the peer's Contact (RFC 3261 §12.1.1, §12.1.2).
    public var remoteTarget: SIPURI
    /// Our own Contact, put into requests we send in the dialog (RFC 3261 §12.2.1.1).
    public var localContact: SIPURI?
    /// The Record-Route URIs in the order requests must visit them (RFC 3261 §12.1).
    public var routeSet: [SIPURI]
    /// The CSeq number of the last request we sent; `nil` while empty (RFC 3261 §12.1.1).
    public var localSequence: UInt32?
    /// The CSeq number of the last request we received; `nil` while empty (RFC 3261 §12.2.2).
    public var remoteSequence: UInt32?
    /// Whether the dialog was set up over `sips` (RFC 3261 §12.1.1).
    public var isSecure: Bool

    /// A dialog from its parts (for restoring saved state and for tests).
    public init(
        id: SIPDialogID, localURI: SIPURI, remoteURI: SIPURI, remoteTarget: SIPURI, localContact: SIPURI? = nil,
        routeSet: [SIPURI] = [], localSequence: UInt32? = nil, remoteSequence: UInt32? = nil, isSecure: Bool = false
    ) {
        self.id = id
        self.localURI = localURI
        self.remoteURI = remoteURI
        self.remoteTarget = remoteTarget
        self.localContact = localContact
        self.routeSet = routeSet
        self.localSequence = localSequence
        self.remoteSequence = remoteSequence
        self.isSecure = isSecure
    }

    /// The UAC side, from a request we sent and the 2xx (or, for INVITE, tagged 1xx) answering it
    /// (RFC 3261 §12.1.2): route set = Record-Route of the response reversed, remote target = its
    /// Contact, local sequence = the request's CSeq, remote sequence empty.
    public init(uacRequest request: SIPRequest, response: SIPResponse) throws(SIPDialogError) {
        guard let callID = request.headers.callID else { throw .missingCallID }
        guard let from = request.headers.from, let localTag = from.tag else { throw .missingFromTag }
        guard let to = response.headers.to, let remoteTag = to.tag else { throw .missingToTag }
        guard let contact = response.headers.contacts.first else { throw .missingContact }
        guard let cseq = request.headers.cseq else { throw .missingCSeq }
        self.init(
            id: SIPDialogID(callID: callID, localTag: localTag, remoteTag: remoteTag),
            localURI: from.uri, remoteURI: to.uri, remoteTarget: contact.uri,
            localContact: request.headers.contacts.first?.uri,
            routeSet: response.headers.recordRoutes.reversed().map(\.uri),
            localSequence: cseq.sequence, remoteSequence: nil,
            isSecure: request.uri.scheme == "sips"
        )
    }

    /// The subscriber side created by a NOTIFY that arrives before (or instead of) the 2xx to our
    /// SUBSCRIBE, e.g. from a fork (RFC 6665 §4.1.2.4, §4.1.3): remote tag = the NOTIFY's From
    /// tag, remote target = its Contact, route set = its Record-Route in order (as a UAS builds
    /// it, RFC 3261 §12.1.1), local sequence = the SUBSCRIBE's CSeq, remote sequence = the NOTIFY's.
    public init(uacRequest subscribe: SIPRequest, notify: SIPRequest) throws(SIPDialogError) {
        guard let callID = subscribe.headers.callID else { throw .missingCallID }
        guard let from = subscribe.headers.from, let localTag = from.tag else { throw .missingFromTag }
        guard let notifier = notify.headers.from, let remoteTag = notifier.tag else { throw .missingFromTag }
        guard let contact = notify.headers.contacts.first else { throw .missingContact }
        guard let cseq = subscribe.headers.cseq, let notifyCSeq = notify.headers.cseq else { throw .missingCSeq }
        self.init(
            id: SIPDialogID(callID: callID, localTag: localTag, remoteTag: remoteTag),
            localURI: from.uri, remoteURI: subscribe.headers.to?.uri ?? notifier.uri, remoteTarget: contact.uri,
            localContact: subscribe.headers.contacts.first?.uri,
            routeSet: notify.headers.recordRoutes.map(\.uri),
            localSequence: cseq.sequence, remoteSequence: notifyCSeq.sequence,
            isSecure: subscribe.uri.scheme == "sips"
        )
    }

    /// The UAS side, from a dialog-creating request we answer with a response carrying
    /// `localTag` in To (RFC 3261 §12.1.1): route set = Record-Route in order, remote target =
    /// Contact, remote sequence = the request's CSeq, local sequence empty.
    public init(uasRequest request: SIPRequest, localTag: String, localContact: SIPURI?) throws(SIPDialogError) {
        guard let callID = request.headers.callID else { throw .missingCallID }
        guard let from = request.headers.from, let remoteTag = from.tag else { throw .missingFromTag }
        guard let to = request.headers.to else { throw .missingHeader }
        guard let contact = request.headers.contacts.first else { throw .missingContact }
        guard let cseq = request.headers.cseq else { throw .missingCSeq }
        self.init(
            id: SIPDialogID(callID: callID, localTag: localTag, remoteTag: remoteTag),
            localURI: to.uri, remoteURI: from.uri, remoteTarget: contact.uri, localContact: localContact,
            routeSet: request.headers.recordRoutes.map(\.uri),
            localSequence: nil, remoteSequence: cseq.sequence,
            isSecure: request.uri.scheme == "sips"
        )
    }

    /// Builds the next request in the dialog and advances the local sequence number
    /// (RFC 3261 §12.2.1.1).
    ///
    /// To carries the remote URI and tag, From the local URI and tag; CSeq is one above the last
    /// (1 when the local sequence was empty). With an empty route set or a loose-routing first
    /// route the Request-URI is the remote target and Route lists the route set; with a strict
    /// router first, the Request-URI is that route and the remote target goes last in Route.
    /// Via is left to the sender.
    public mutating func makeRequest(method: SIPMethod) -> SIPRequest {
        let sequence = (localSequence ?? 0) &+ 1
        localSequence = sequence
        return makeRequest(method: method, sequence: sequence)
    }

    /// A request with a given CSeq number (the CSeq of the request it cancels or acknowledges);
    /// does not change the local sequence number (RFC 3261 §12.2.1.1, §13.2.2.4).
    public func makeRequest(method: SIPMethod, sequence: UInt32) -> SIPRequest {
        var headers = SIPHeaders()
        let requestURI: SIPURI
        var routes: [SIPURI]
        if let first = routeSet.first, !first.isLooseRouting {
            var strict = first
            strict.headers = []
            requestURI = strict
            routes = Array(routeSet.dropFirst())
            routes.append(remoteTarget)
        } else {
            requestURI = remoteTarget
            routes = routeSet
        }
        for route in routes {
            headers.add(name: "Route", value: SIPNameAddress(uri: route).description)
        }
        headers.add(name: "Max-Forwards", value: "70")
        headers.to = SIPNameAddress(uri: remoteURI, parameters: [("tag", id.remoteTag)])
        headers.from = SIPNameAddress(uri: localURI, parameters: [("tag", id.localTag)])
        headers.callID = id.callID
        headers.cseq = SIPCSeq(sequence: sequence, method: method)
        if let localContact {
            headers.add(name: "Contact", value: SIPNameAddress(uri: localContact).description)
        }
        return SIPRequest(method: method, uri: requestURI, headers: headers)
    }

    /// Checks a request received in this dialog and records its CSeq (RFC 3261 §12.2.2).
    ///
    /// Throws ``SIPDialogError/notInDialog`` (481) when the dialog ID differs,
    /// ``SIPDialogError/cseqOutOfOrder`` (500) when the CSeq is lower than the remote sequence
    /// number (ACK and CANCEL carry the number of the request they refer to and are not checked).
    /// An accepted request raises the remote sequence number.
    public mutating func validateRequest(_ request: SIPRequest) throws(SIPDialogError) {
        guard SIPDialogID.ofReceivedRequest(request) == id else { throw .notInDialog }
        guard let cseq = request.headers.cseq else { throw .missingCSeq }
        if request.method == .ack || request.method == .cancel { return }
        if let remoteSequence, cseq.sequence < remoteSequence { throw .cseqOutOfOrder }
        remoteSequence = cseq.sequence
    }

    /// Takes the remote target from a target-refresh request or its 2xx (RFC 3261 §12.2.1.2,
    /// §12.2.2; SUBSCRIBE and NOTIFY refresh the target, RFC 6665 §4.1.2.1, §4.2.2). A message
    /// without Contact leaves the target unchanged.
    public mutating func refreshRemoteTarget(from headers: SIPHeaders) {
        if let contact = headers.contacts.first { remoteTarget = contact.uri }
    }
}

// MARK: - Codable

extension SIPDialog: Codable {
    private enum CodingKeys: String, CodingKey {
        case id, localURI, remoteURI, remoteTarget, localContact, routeSet, localSequence, remoteSequence, isSecure
    }

    /// URIs are stored in their wire form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(localURI.description, forKey: .localURI)
        try container.encode(remoteURI.description, forKey: .remoteURI)
        try container.encode(remoteTarget.description, forKey: .remoteTarget)
        try container.encodeIfPresent(localContact?.description, forKey: .localContact)
        try container.encode(routeSet.map(\.description), forKey: .routeSet)
        try container.encodeIfPresent(localSequence, forKey: .localSequence)
        try container.encodeIfPresent(remoteSequence, forKey: .remoteSequence)
        try container.encode(isSecure, forKey: .isSecure)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func uri(_ text: String, _ key: CodingKeys) throws -> SIPURI {
            guard let uri = SIPURI(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not a URI: \(text)")
            }
            return uri
        }
        self.init(
            id: try container.decode(SIPDialogID.self, forKey: .id),
            localURI: try uri(container.decode(String.self, forKey: .localURI), .localURI),
            remoteURI: try uri(container.decode(String.self, forKey: .remoteURI), .remoteURI),
            remoteTarget: try uri(container.decode(String.self, forKey: .remoteTarget), .remoteTarget),
            localContact: try container.decodeIfPresent(String.self, forKey: .localContact).map { try uri($0, .localContact) },
            routeSet: try container.decode([String].self, forKey: .routeSet).map { try uri($0, .routeSet) },
            localSequence: try container.decodeIfPresent(UInt32.self, forKey: .localSequence),
            remoteSequence: try container.decodeIfPresent(UInt32.self, forKey: .remoteSequence),
            isSecure: try container.decode(Bool.self, forKey: .isSecure)
        )
    }
}
