// What an instance sees of the runtime: its context (emit, state, notices) and SIP beyond the wires.

import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax

/// The input an instance is handling in the current task: values it emits meanwhile are tied to it (their ids
/// derive from its id; a relay acknowledges it once they are acknowledged).
final class ServiceHandlingScope: @unchecked Sendable {
    let application: String
    let service: String
    let inputID: String
    // Guarded by `lock`.
    private var emitted = 0
    private var needs: [ServiceRuntime.AckNeed] = []
    private let lock = NSLock()

    init(application: String, service: String, inputID: String) {
        self.application = application
        self.service = service
        self.inputID = inputID
    }

    /// The index of the next value emitted while handling the input (0, 1, …).
    func nextIndex() -> Int {
        lock.withLock {
            defer { emitted += 1 }
            return emitted
        }
    }

    func add(_ more: [ServiceRuntime.AckNeed]) { lock.withLock { needs += more } }

    var allNeeds: [ServiceRuntime.AckNeed] { lock.withLock { needs } }
}

enum ServiceHandling {
    /// The input being handled by the current task, if any.
    @TaskLocal static var scope: ServiceHandlingScope?
}

/// The ``ServiceContext`` the runtime gives each instance.
struct RuntimeServiceContext: ServiceContext {
    let instance: ServiceInstanceInfo
    let clock: ServiceClock
    let logger: Logger
    let sip: any ServiceSIP
    let runtime: ServiceRuntime

    func emit(_ value: ServiceValue, on port: String) async throws {
        try await runtime.emit(
            value, on: port, application: instance.application, service: instance.serviceID, scope: ServiceHandling.scope, trace: ServiceTracing.current)
    }

    func setState(_ values: [ServiceValue], on port: String) async throws {
        try await runtime.setState(values, on: port, application: instance.application, service: instance.serviceID)
    }

    func notice(_ text: String) async {
        await runtime.raiseNotice(text, application: instance.application, service: instance.serviceID)
    }
}

/// ``ServiceSIP`` over the node's endpoint: requests go out from the instance's URI.
struct EndpointServiceSIP: ServiceSIP {
    let endpoint: SIPEndpoint
    /// The instance's URI: the From of its MESSAGEs and SUBSCRIBEs, so answers come back to it.
    let instanceURI: SIPURI
    let logger: Logger

    func sendMessage(to uri: String, contentType: String, body: [UInt8]) async -> ServiceDeliveryResult {
        guard let target = SIPURI(uri) else { return .failed(statusCode: nil, reason: "'\(uri)' is not a SIP URI") }
        do {
            switch try await endpoint.sendMessage(to: target, from: instanceURI, body: SIPEventBody(contentType: contentType, bytes: body)) {
            case .delivered(let statusCode): return .delivered(statusCode: statusCode)
            case .rejected(let statusCode, let reason): return .failed(statusCode: statusCode, reason: reason)
            case .timedOut: return .failed(statusCode: nil, reason: "no final response")
            }
        } catch {
            return .failed(statusCode: nil, reason: "\(error)")
        }
    }

    func subscribe(to uri: String, package: String, contentType: String?, body: [UInt8], expires: Int) async
        -> (updates: AsyncStream<ServiceSubscriptionUpdate>, cancel: @Sendable () async -> Void)
    {
        let (updates, continuation) = AsyncStream.makeStream(of: ServiceSubscriptionUpdate.self)
        guard let target = SIPURI(uri) else {
            continuation.yield(.terminated(reason: "'\(uri)' is not a SIP URI"))
            continuation.finish()
            return (updates, {})
        }
        let handle: SIPSubscriptionHandle
        do {
            // The body goes in the initial SUBSCRIBE (RFC 6665 §4.1.2.1), e.g. the alarm a supporter is asked about.
            handle = try await endpoint.subscribe(
                to: target, subscriber: instanceURI, package: package, expires: expires, accept: [],
                body: body.isEmpty ? nil : SIPEventBody(contentType: contentType ?? "application/octet-stream", bytes: body))
        } catch {
            continuation.yield(.terminated(reason: "\(error)"))
            continuation.finish()
            return (updates, {})
        }
        let forwarding = Task {
            for await update in handle.updates {
                switch update {
                case .notification(let notification):
                    continuation.yield(.notification(contentType: notification.body?.contentType, body: notification.body?.bytes ?? []))
                case .terminated(let termination):
                    continuation.yield(.terminated(reason: "\(termination)"))
                }
            }
            continuation.finish()
        }
        let endpoint = self.endpoint
        continuation.onTermination = { _ in forwarding.cancel() }
        return (updates, { await endpoint.unsubscribe(handle) })
    }

    func setState(package: String, resource: String, contentType: String, body: [UInt8]) async throws {
        guard let uri = SIPURI(resource) else { throw ServicePlatformError(.invalidValue, "'\(resource)' is not a SIP URI") }
        if await !endpoint.packageNames.contains(package) {
            await endpoint.registerPackage(SIPBasicEventPackage(name: package))
        }
        try await endpoint.setState(package: package, resource: uri, body: SIPEventBody(contentType: contentType, bytes: body))
    }
}
