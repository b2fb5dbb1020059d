import ControlChannel
import Foundation
import Logging
import Presence
import SIPEndpoint
import SIPEvents
import SIPSyntax
import Storage

/// The node as its own presence agent (edge presence, RFC 3856 §3): the document it publishes for its address
/// of record, the NOTIFYs to its watchers (through the endpoint's notifier) and, with a registrar, the same
/// document PUBLISHed there (RFC 3903 §4).
///
/// The document is also kept in the node settings (`presence.document`), so a restarted node knows what it
/// said last; the endpoint keeps the notifier's copy itself.
actor NodePresence {
    /// The node setting holding the last published PIDF document.
    static let settingKey = "presence.document"

    private let endpoint: SIPEndpoint
    private let database: SMFDatabase
    private let aor: SIPURI
    /// Where to PUBLISH (`sip:USER@REGISTRAR`), when a registrar is configured.
    private let publicationTarget: SIPURI?
    private let logger: Logger
    private var presentities = PresentityStore()
    private var publication: SIPPublicationHandle?

    init(endpoint: SIPEndpoint, database: SMFDatabase, aor: SIPURI, publicationTarget: SIPURI?, logger: Logger) {
        self.endpoint = endpoint
        self.database = database
        self.aor = aor
        self.publicationTarget = publicationTarget
        self.logger = logger
    }

    /// The node's current document, if it published one.
    var document: PresenceDocument? { presentities.document(for: aor) }

    /// Reads the document saved by an earlier run (the notifier restored its own copy) and, with a registrar,
    /// publishes it there again.
    func restore() async {
        let saved: String?
        do {
            saved = try await database.setting(Self.settingKey)
        } catch {
            logger.warning("cannot read the saved presence document", metadata: ["smf.error": "\(error)"])
            return
        }
        guard let saved else { return }
        do {
            var document = try PresenceDocument(decoding: saved)
            document.entity = aor.description
            let change = try presentities.publishLocally(document, for: aor)
            if let body = change.body { await publishAtRegistrar(body) }
        } catch {
            logger.warning("the saved presence document cannot be read; starting without one", metadata: ["smf.error": "\(error)"])
        }
    }

    /// Publishes `document` as the node's presence: watchers get a NOTIFY (RFC 3856 §6.8), the document is saved,
    /// and it is PUBLISHed at the registrar when there is one.
    /// - Returns: The PIDF body sent.
    func publish(_ document: PresenceDocument) async throws -> SIPEventBody {
        var document = document
        document.entity = aor.description
        var updated = presentities
        let change: PresentityStore.Change
        do {
            change = try updated.publishLocally(document, for: aor)
        } catch {
            throw ControlError(.invalidPresence, "the presence document cannot be written as PIDF: \(error)")
        }
        guard let body = change.body else {
            throw ControlError(.invalidPresence, "the presence document is empty")
        }
        do {
            try await endpoint.setState(package: "presence", body: body)
        } catch {
            throw ControlError(.endpointFailed, "cannot set the node's presence: \(error)")
        }
        presentities = updated
        do {
            try await database.setSetting(Self.settingKey, to: body.text)
        } catch {
            logger.warning("cannot save the presence document", metadata: ["smf.error": "\(error)"])
        }
        await publishAtRegistrar(body)
        return body
    }

    /// PUBLISHes (or modifies, with SIP-If-Match) the node's presence at the registrar (RFC 3903 §4.1, §4.4).
    private func publishAtRegistrar(_ body: SIPEventBody) async {
        guard let target = publicationTarget else { return }
        if let publication {
            await publication.modify(body)
            return
        }
        do {
            let handle = try await endpoint.publish(to: target, package: "presence", body: body)
            publication = handle
            let logger = self.logger
            Task { [weak self] in
                for await update in handle.updates {
                    switch update {
                    case .published(let entityTag, let expires):
                        logger.info(
                            "presence published at the registrar",
                            metadata: ["sip.target": "\(target)", "sip.etag": "\(entityTag)", "sip.expires": "\(expires)"])
                    case .failed(let statusCode):
                        logger.error(
                            "PUBLISH of the node's presence failed",
                            metadata: ["sip.target": "\(target)", "sip.status": "\(statusCode.map(String.init) ?? "timeout")"])
                    case .removed:
                        break
                    }
                }
                await self?.publicationEnded(handle.id)
            }
        } catch {
            logger.error("cannot PUBLISH the node's presence", metadata: ["sip.target": "\(target)", "smf.error": "\(error)"])
        }
    }

    private func publicationEnded(_ id: Int) {
        if publication?.id == id { publication = nil }
    }
}
