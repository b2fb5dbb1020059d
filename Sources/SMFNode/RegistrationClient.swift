import Foundation
import Logging
import SIPCore
import SIPSyntax
import SIPTransport

/// Keeps the node registered at a conventional registrar (RFC 3261 §10.2): binds the node's contact to
/// `sip:USER@REGISTRAR-HOST:PORT`, refreshes before the binding expires, retries after failures, and logs what
/// goes wrong without stopping the node, and removes the binding when the node stops (§10.2.2). No
/// authentication (a registrar that challenges gets a clear log line).
actor RegistrationClient {
    /// The registrar's URI (Request-URI of REGISTER, RFC 3261 §10.2).
    let registrar: SIPURI
    /// The address of record registered (To and From).
    let addressOfRecord: SIPURI
    /// The node's contact.
    let contact: SIPURI
    /// Lifetime asked for, in seconds.
    let expires: Int
    /// Wait before trying again after a failure.
    let retryDelay: Duration
    let transport: SIPTransport
    let logger: Logger
    /// One Call-ID and From tag for every REGISTER of this run (RFC 3261 §10.2: same Call-ID, rising CSeq).
    private let callID = "\(SIPUserAgentCore.randomTag())\(SIPUserAgentCore.randomTag())@smf"
    private let fromTag = SIPUserAgentCore.randomTag()
    private var sequence: UInt32 = 0
    private var isRegistered = false

    init(
        registrar: SIPURI, addressOfRecord: SIPURI, contact: SIPURI, expires: Int, retryDelay: Duration = .seconds(30),
        transport: SIPTransport, logger: Logger
    ) {
        self.registrar = registrar
        self.addressOfRecord = addressOfRecord
        self.contact = contact
        self.expires = expires
        self.retryDelay = retryDelay
        self.transport = transport
        self.logger = logger
    }

    /// The address of record of `user` at `registrar` (`sip:alice@10.0.0.1:5060`).
    static func addressOfRecord(user: String, registrar: SIPURI) -> SIPURI {
        SIPURI(scheme: registrar.scheme, user: user, host: registrar.host, port: registrar.port)
    }

    /// Where REGISTER goes: the registrar's host and port, over its `transport` parameter (RFC 3263 reduced to
    /// literal hosts).
    nonisolated var destination: SIPDestination {
        let protocolName = registrar.transport.flatMap(SIPTransportProtocol.init(token:)) ?? .udp
        return SIPDestination(transport: protocolName, host: registrar.maddr ?? registrar.hostWithoutBrackets, port: registrar.port ?? 5060)
    }

    /// Registers and refreshes until the task is cancelled.
    func run() async {
        var asked = expires
        while !Task.isCancelled {
            sequence += 1
            let request = makeRegister(callID: callID, fromTag: fromTag, sequence: sequence, expires: asked)
            let wait: Duration
            do {
                let response = try await transport.send(request, to: destination)
                switch response.statusCode {
                case 200..<300:
                    isRegistered = true
                    let granted = grantedExpires(in: response) ?? asked
                    logger.info(
                        "registered at the registrar",
                        metadata: ["sip.registrar": "\(registrar)", "sip.aor": "\(addressOfRecord)", "sip.expires": "\(granted)"])
                    wait = Self.refreshDelay(forExpires: granted)
                case 423:
                    // RFC 3261 §10.2.8: ask again with at least Min-Expires.
                    if let minimum = response.headers["Min-Expires"].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), minimum > asked {
                        asked = minimum
                        continue
                    }
                    logRefusal(response)
                    wait = retryDelay
                default:
                    logRefusal(response)
                    wait = retryDelay
                }
            } catch {
                if error == .cancelled { return }
                logger.error(
                    "REGISTER got no answer; retrying",
                    metadata: ["sip.registrar": "\(registrar)", "smf.error": "\(error)", "smf.retry.seconds": "\(retryDelay.components.seconds)"])
                wait = retryDelay
            }
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    /// Removes the node's binding (`Expires: 0`, RFC 3261 §10.2.2) if it holds one, waiting at most `timeout`
    /// for the answer; called as the node stops, before the transport closes.
    func unregister(timeout: Duration = .seconds(2)) async {
        guard isRegistered else { return }
        isRegistered = false
        sequence += 1
        let request = makeRegister(callID: callID, fromTag: fromTag, sequence: sequence, expires: 0)
        let transport = self.transport
        let destination = self.destination
        let answered = await withTaskGroup(of: Int?.self) { group in
            group.addTask { (try? await transport.send(request, to: destination))?.statusCode }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        logger.info(
            "unregistered from the registrar",
            metadata: ["sip.registrar": "\(registrar)", "sip.status": "\(answered.map(String.init) ?? "no answer")"])
    }

    /// Refresh halfway through short bindings, a minute before the end of long ones (never sooner than 1 s).
    static func refreshDelay(forExpires seconds: Int) -> Duration {
        let refresh = seconds > 120 ? seconds - 60 : seconds / 2
        return .seconds(max(1, refresh))
    }

    private func logRefusal(_ response: SIPResponse) {
        let hint = (response.statusCode == 401 || response.statusCode == 407) ? " (smf does not authenticate yet)" : ""
        logger.error(
            "the registrar refused REGISTER\(hint); retrying",
            metadata: [
                "sip.registrar": "\(registrar)", "sip.status": "\(response.statusCode) \(response.reasonPhrase)",
                "smf.retry.seconds": "\(retryDelay.components.seconds)",
            ])
    }

    /// The lifetime the registrar granted our contact: its `expires` parameter, else the Expires header
    /// (RFC 3261 §10.2.4).
    nonisolated func grantedExpires(in response: SIPResponse) -> Int? {
        let ours = response.headers.contacts.first { $0.uri.user == contact.user && $0.uri.port == contact.port && $0.uri.host == contact.host }
        return ours?.expires ?? response.headers.expires
    }

    /// REGISTER per RFC 3261 §10.2 (Via, Max-Forwards and User-Agent are added by the transport).
    nonisolated func makeRegister(callID: String, fromTag: String, sequence: UInt32, expires: Int) -> SIPRequest {
        SIPRequest(
            method: .register,
            uri: registrar,
            headers: SIPHeaders([
                ("From", "<\(addressOfRecord)>;tag=\(fromTag)"),
                ("To", "<\(addressOfRecord)>"),
                ("Call-ID", callID),
                ("CSeq", "\(sequence) REGISTER"),
                ("Contact", "<\(contact)>"),
                ("Expires", "\(expires)"),
            ])
        )
    }
}
