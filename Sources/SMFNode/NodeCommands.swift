import ControlChannel
import Foundation
import Presence
import SIPEndpoint
import SIPEvents
import SIPSyntax
import Storage

extension ControlError.Code {
    /// An argument of a node command is not acceptable (e.g. `--status maybe`).
    public static let badArgument = ControlError.Code("smf.bad-argument")
    /// The SIP endpoint refused or failed the operation.
    public static let endpointFailed = ControlError.Code("smf.endpoint")
    /// A presence document cannot be built or written.
    public static let invalidPresence = ControlError.Code("presence.invalid")
}

extension SMFNode {
    /// Registers the event commands: presence, messages, subscriptions and package state.
    func registerEventCommands() throws(ControlError) {
        let slot = self.runtimeSlot
        let registrar = configuration.registrar
        @Sendable func runtime() throws -> NodeRuntime {
            guard let runtime = slot.current else { throw ControlError(.notRunning, "the node's SIP endpoint has not started") }
            return runtime
        }

        try control.register(
            "presence.publish", arguments: PresencePublishArguments.self,
            summary: "set the node's own presence (status, note, activities, location); watchers get a NOTIFY"
        ) { args, _ in
            let runtime = try runtime()
            let document = try Self.presenceDocument(args, entity: runtime.addressOfRecord)
            _ = try await runtime.presence.publish(document)
            let watchers = await runtime.endpoint.subscriptions().filter { $0.role == .notifier && Self.package(of: $0.event) == "presence" }
            return PresencePublishResult(entity: runtime.addressOfRecord.description, watchers: watchers.count, registrar: registrar?.description)
        }

        try control.registerStream("presence.watch", summary: "subscribe to a URI (presence or another package) and stream each NOTIFY") {
            args, sink in
            let runtime = try runtime()
            let arguments = try args.decode(WatchArguments.self)
            guard let target = SIPURI(arguments.uri), target.isSIP, !target.host.isEmpty else {
                throw ControlError(.badArgument, "'\(arguments.uri)' is not a sip: URI with a host, e.g. sip:alice@127.0.0.1:5060")
            }
            let accept = arguments.package == "presence" ? [PresenceDocument.contentType] : []
            let handle: SIPSubscriptionHandle
            do {
                handle = try await runtime.endpoint.subscribe(to: target, package: arguments.package, expires: arguments.expires, accept: accept)
            } catch {
                throw ControlError(.endpointFailed, "cannot subscribe to \(target): \(error)")
            }
            do {
                for await update in handle.updates {
                    switch update {
                    case .notification(let notification):
                        try await sink.yield(encoding: Self.watchEvent(notification))
                    case .terminated(let termination):
                        try await sink.yield(encoding: WatchEvent(kind: "terminated", state: Self.describe(termination)))
                    }
                }
            } catch {
                await runtime.endpoint.unsubscribe(handle)
                throw error
            }
            // The client went away (the stream ends on cancellation) or the subscription ended: unsubscribe.
            await runtime.endpoint.unsubscribe(handle)
        }

        try control.register("message.send", arguments: MessageSendArguments.self, summary: "send a MESSAGE and report its delivery") {
            args, _ in
            let runtime = try runtime()
            guard let target = SIPURI(args.uri), target.isSIP, !target.host.isEmpty else {
                throw ControlError(.badArgument, "'\(args.uri)' is not a sip: URI with a host, e.g. sip:bob@127.0.0.1:5060")
            }
            let result: SIPMessageDeliveryResult
            do {
                result = try await runtime.endpoint.sendMessage(to: target, body: args.text, contentType: args.contentType)
            } catch {
                throw ControlError(.endpointFailed, "cannot send MESSAGE to \(target): \(error)")
            }
            switch result {
            case .delivered(let statusCode): return MessageSendResult(outcome: "delivered", statusCode: statusCode, reason: nil)
            case .rejected(let statusCode, let reason): return MessageSendResult(outcome: "rejected", statusCode: statusCode, reason: reason)
            case .timedOut: return MessageSendResult(outcome: "timeout", statusCode: nil, reason: "no final response")
            }
        }

        try control.register("messages.list", arguments: MessagesArguments.self, summary: "received MESSAGEs, oldest first") { args, _ in
            let runtime = try runtime()
            do {
                return try await runtime.database.messages(afterID: args.afterID, limit: args.limit).map(Self.received)
            } catch {
                throw ControlError(.internalError, "cannot read the received messages: \(error)")
            }
        }

        try control.registerStream("messages.follow", summary: "received MESSAGEs after an id, then each new one as it arrives") {
            args, sink in
            let runtime = try runtime()
            let arguments = try args.decode(MessagesArguments.self)
            let (id, live) = await runtime.inbox.follow()
            do {
                var last = arguments.afterID
                for message in try await runtime.database.messages(afterID: arguments.afterID, limit: arguments.limit) {
                    try await sink.yield(encoding: Self.received(message))
                    last = message.id
                }
                for await message in live where message.id > last {
                    try await sink.yield(encoding: Self.received(message))
                }
            } catch {
                await runtime.inbox.stopFollowing(id)
                throw error
            }
            await runtime.inbox.stopFollowing(id)
        }

        try control.register("subscriptions.list", summary: "live subscriptions, both roles") { _, _ in
            let runtime = try runtime()
            let rows = await runtime.endpoint.subscriptions().map { info in
                SubscriptionRow(
                    role: info.role.rawValue, package: info.event, resource: info.resource, peer: info.peer, state: info.state,
                    expiresIn: info.expiresIn, lastCSeq: info.lastNotifyCSeq)
            }
            return try ControlValue(encoding: rows)
        }

        try control.register("state.set", arguments: StateSetArguments.self, summary: "set the node's state in an event package; watchers get a NOTIFY") {
            args, _ in
            let runtime = try runtime()
            let body = args.text.map { SIPEventBody(contentType: args.contentType, text: $0) }
            do {
                try await runtime.endpoint.setState(package: args.package, body: body)
            } catch {
                let known = await runtime.endpoint.packageNames.joined(separator: ", ")
                throw ControlError(.badArgument, "cannot set the state of '\(args.package)': \(error) (packages: \(known))")
            }
            let watchers = await runtime.endpoint.subscriptions().filter { $0.role == .notifier && Self.package(of: $0.event) == args.package }
            return StateSetResult(
                package: args.package, resource: SIPEventResource.key(for: runtime.addressOfRecord), watchers: watchers.count)
        }
    }

    /// The package token of an Event value (`presence;id=7` → `presence`).
    static func package(of event: String) -> String {
        String(event.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// Builds the node's document from `presence.publish` arguments: one tuple with the basic status and the
    /// location (RFC 4119 §2.2.1), notes at the top (RFC 3863 §4.1.6), activities on the person (RFC 4480 §3.2).
    static func presenceDocument(_ args: PresencePublishArguments, entity: SIPURI) throws -> PresenceDocument {
        guard let basic = PresenceBasicStatus(rawValue: args.status) else {
            throw ControlError(.badArgument, "status must be open or closed, not '\(args.status)'")
        }
        var location: PresenceLocation?
        switch (args.latitude, args.longitude) {
        case (let latitude?, let longitude?):
            guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw ControlError(.badArgument, "location \(latitude),\(longitude) is not a WGS 84 latitude (-90…90) and longitude (-180…180)")
            }
            location = PresenceLocation(position: PresenceGeodeticPosition(latitude: latitude, longitude: longitude))
        case (nil, nil):
            location = nil
        default:
            throw ControlError(.badArgument, "a location needs both latitude and longitude")
        }
        let activities = args.activities.map(PresenceActivity.init(token:))
        let tuple = PresenceTuple(
            id: "smf", status: PresenceStatus(basic: basic, location: location), contact: PresenceContact(uri: entity.description))
        let persons = activities.isEmpty ? [] : [PresencePerson(id: "p1", activities: activities)]
        return PresenceDocument(
            entity: entity.description, tuples: [tuple], notes: args.note.map { [PresenceNote($0)] } ?? [], persons: persons)
    }

    static func watchEvent(_ notification: SIPSubscriberNotification) -> WatchEvent {
        guard let body = notification.body else {
            return WatchEvent(kind: "notify", state: notification.state.description)
        }
        var summary: PresenceSummary?
        if body.mediaType == PresenceDocument.contentType, let document = try? PresenceDocument(eventBody: body) {
            let position = document.location?.position
            summary = PresenceSummary(
                entity: document.entity, status: document.basicStatus?.rawValue,
                notes: (document.notes + document.tuples.flatMap(\.notes) + document.persons.flatMap(\.notes)).map(\.text),
                activities: document.activities.map { $0.token ?? $0.description }, latitude: position?.latitude,
                longitude: position?.longitude)
        }
        return WatchEvent(kind: "notify", state: notification.state.description, contentType: body.contentType, body: body.text, presence: summary)
    }

    static func describe(_ termination: SIPSubscriberTermination) -> String {
        switch termination {
        case .unsubscribed: "unsubscribed"
        case .refused(let statusCode): "refused with \(statusCode)"
        case .terminated(let reason): "terminated by the notifier (\(reason))"
        }
    }

    static func received(_ message: StoredMessage) -> ReceivedMessage {
        ReceivedMessage(
            id: message.id, receivedAt: message.receivedAt, from: message.from, to: message.to, contentType: message.contentType,
            text: message.text)
    }
}
