public import SIPSyntax

/// The UAS core of a node (RFC 3261 §8.2): checks every new request in the order of §8.2.1–§8.2.2,
/// answers OPTIONS itself (§11.2) and dispatches other methods to registered handlers.
///
/// It sits above the transaction layer, so request retransmissions never reach it. Event packages
/// (SUBSCRIBE/NOTIFY, PUBLISH, MESSAGE) plug in with ``register(_:accepting:handler:)``; every response
/// leaving the core gets a To tag (except 100, §8.2.6.2) and a `Server` header.
public actor SIPUserAgentCore: SIPRequestHandler {
    /// Settings of the UAS core; the defaults suit an `smf` node.
    public struct Configuration: Sendable {
        /// Value of the `Server` header, e.g. `smf/0.1.0` (RFC 3261 §20.35).
        public var serverName: String = "smf"
        /// Option tags we implement; a `Require` naming any other tag gets 420 (§8.2.2.3).
        public var supportedOptionTags: [String] = []
        /// Body types we accept, listed in `Accept` of the OPTIONS answer (§11.2). Registered handlers add theirs.
        public var acceptedContentTypes: [String] = ["application/pidf+xml", "text/plain"]
        /// URI schemes we serve; other Request-URI schemes get 416 (§8.2.2.1).
        public var supportedURISchemes: Set<String> = ["sip", "sips"]
        /// How many recent requests are remembered for merged-request detection (§8.2.2.2).
        public var mergedRequestMemory: Int = 4096
        /// Makes a fresh To tag (RFC 3261 §19.3); replaced in tests for deterministic output.
        public var makeTag: @Sendable () -> String = SIPUserAgentCore.randomTag

        public init() {}
    }

    /// Answers one request of a registered method.
    public typealias MethodHandler = @Sendable (SIPIncomingRequest) async -> SIPResponse

    /// Methods RFC 3261 and the extensions we know define; a known method without a handler gets 405,
    /// anything else 501 (§8.2.1, §21.5.2).
    public static let knownMethods: Set<SIPMethod> = [
        .invite, .ack, .bye, .cancel, .options, .register, .subscribe, .notify, .publish, .message,
        .info, .prack, .update, .refer,
    ]

    private let configuration: Configuration
    private var handlers: [SIPMethod: MethodHandler] = [:]
    private var handlerOrder: [SIPMethod] = []
    private var extraAccepted: [String] = []
    /// Merged-request memory: digest of (From tag, Call-ID, CSeq) → digest of the top Via's branch and sent-by,
    /// and the digests in arrival order (a ring), so the oldest is forgotten first.
    private var recentRequests: [UInt64: UInt64] = [:]
    private var recentOrder: [UInt64] = []
    private var recentHead = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Registers the handler for `method`, replacing any earlier one; `accepting` lists body types it takes.
    public func register(_ method: SIPMethod, accepting contentTypes: [String] = [], handler: @escaping MethodHandler) {
        if handlers[method] == nil { handlerOrder.append(method) }
        handlers[method] = handler
        for type in contentTypes where !extraAccepted.contains(type) && !configuration.acceptedContentTypes.contains(type) {
            extraAccepted.append(type)
        }
    }

    /// The methods listed in `Allow` (RFC 3261 §20.5): OPTIONS plus every registered method.
    public var allowedMethods: [SIPMethod] {
        [.options] + handlerOrder.filter { $0 != .options }
    }

    public func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse? {
        let request = incoming.request
        if request.method == .ack { return nil }  // ACK is never answered (§17.1.1.3); no INVITE support yet.
        if let rejection = check(request) { return finish(rejection, for: request) }
        if let handler = handlers[request.method] {
            return finish(await handler(incoming), for: request)
        }
        switch request.method {
        case .options:
            return finish(optionsAnswer(to: request), for: request)
        case .cancel:
            // No INVITE server transactions exist here, so nothing can match (§9.2).
            return finish(.answering(request, statusCode: 481), for: request)
        default:
            return finish(.answering(request, statusCode: 500), for: request)
        }
    }

    /// The §8.2 checks, in order; returns the rejection to send, or nil when the request may be processed.
    private func check(_ request: SIPRequest) -> SIPResponse? {
        if request.version.uppercased() != "SIP/2.0" {
            return .answering(request, statusCode: 505)  // §8.2 / §21.5.6
        }
        if request.method != .options, let maxForwards = request.headers.maxForwards, maxForwards <= 0 {
            return .answering(request, statusCode: 483)  // §16.3 step 2 applied at the UAS
        }
        if handlers[request.method] == nil && request.method != .options && request.method != .cancel {
            var response = SIPResponse.answering(request, statusCode: Self.knownMethods.contains(request.method) ? 405 : 501)
            response.headers.add(name: "Allow", value: allowValue)  // §8.2.1
            return response
        }
        if !configuration.supportedURISchemes.contains(request.uri.scheme.lowercased()) {
            return .answering(request, statusCode: 416)  // §8.2.2.1
        }
        if isMergedRequest(request) {
            return .answering(request, statusCode: 482)  // §8.2.2.2
        }
        if request.method != .cancel {  // Require is ignored in CANCEL and ACK (§8.2.2.3)
            let required = request.headers.splitValues("Require").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            let unsupported = required.filter { tag in !configuration.supportedOptionTags.contains { $0.lowercased() == tag.lowercased() } }
            if !unsupported.isEmpty {
                var response = SIPResponse.answering(request, statusCode: 420)
                response.headers.add(name: "Unsupported", value: unsupported.joined(separator: ", "))
                return response
            }
        }
        return nil
    }

    /// OPTIONS answered as the final response to an INVITE would be, without a body (§11.2).
    private func optionsAnswer(to request: SIPRequest) -> SIPResponse {
        var response = SIPResponse.answering(request, statusCode: 200)
        response.headers.add(name: "Allow", value: allowValue)
        response.headers.add(name: "Accept", value: (configuration.acceptedContentTypes + extraAccepted).joined(separator: ", "))
        response.headers.add(name: "Supported", value: configuration.supportedOptionTags.joined(separator: ", "))
        return response
    }

    private var allowValue: String { allowedMethods.map(\.rawValue).joined(separator: ", ") }

    /// Adds the To tag (§8.2.6.2) and `Server` header to a response leaving the core.
    private func finish(_ response: SIPResponse, for request: SIPRequest) -> SIPResponse {
        var response = response
        if response.statusCode != 100, let toValue = response.headers["To"] ?? request.headers["To"], response.headers.to?.tag == nil {
            // Appended to the received text so the To header is otherwise returned exactly as sent.
            response.headers.replaceOrAdd(name: "To", value: "\(toValue.trimmingWhitespace());tag=\(configuration.makeTag())")
        }
        if !response.headers.contains("Server") {
            response.headers.add(name: "Server", value: configuration.serverName)
        }
        return response
    }

    // MARK: - Merged requests (§8.2.2.2)

    /// A request without To tag whose From tag, Call-ID and CSeq equal those of a recent request that
    /// came with a different top-Via branch arrived over two paths: it is merged (§8.2.2.2).
    ///
    /// Both sides are kept as 64-bit digests (Swift's per-process seeded `Hasher`), not as strings: the memory
    /// then takes no allocation per request. Strings would be thousands of small objects that outlive the
    /// transactions around them, each keeping a page of the freed transactions resident. Two different requests
    /// share a digest with probability 2⁻⁶⁴.
    private func isMergedRequest(_ request: SIPRequest) -> Bool {
        guard request.headers.to?.tag == nil,
            let fromTag = request.headers.from?.tag,
            let callID = request.headers.callID,
            let cseq = request.headers.cseq,
            let via = request.headers.topVia
        else { return false }
        var keyHasher = Hasher()
        keyHasher.combine(fromTag)
        keyHasher.combine(callID)
        keyHasher.combine(cseq.sequence)
        keyHasher.combine(cseq.method)
        let key = UInt64(truncatingIfNeeded: keyHasher.finalize())
        var identityHasher = Hasher()
        identityHasher.combine(via.branch ?? "")
        identityHasher.combine(via.sentBy)
        let identity = UInt64(truncatingIfNeeded: identityHasher.finalize())
        if let seen = recentRequests[key] { return seen != identity }
        remember(key, identity)
        return false
    }

    private func remember(_ key: UInt64, _ identity: UInt64) {
        let capacity = max(configuration.mergedRequestMemory, 1)
        if recentOrder.count < capacity {
            if recentOrder.isEmpty {
                // Sized once: growing by doubling would leave the smaller tables behind as holes in the heap.
                recentOrder.reserveCapacity(capacity)
                recentRequests.reserveCapacity(capacity)
            }
            recentOrder.append(key)
        } else {
            recentRequests[recentOrder[recentHead]] = nil
            recentOrder[recentHead] = key
            recentHead = (recentHead + 1) % capacity
        }
        recentRequests[key] = identity
    }

    /// Ten random hexadecimal digits (RFC 3261 §19.3 asks for at least 32 bits of randomness).
    @Sendable public static func randomTag() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() & 0xFF_FFFF_FFFF
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 10 - hex.count)) + hex
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
