public import Logging
import NIOConcurrencyHelpers

/// What a handler knows about the request it serves.
public struct ControlContext: Sendable {
    /// The command name, e.g. `node.status`.
    public var command: String
    /// The client's id for the request (unique among its requests in progress on the connection).
    public var requestID: Int
    /// A logger carrying `control.command` and `control.request.id` metadata.
    public var logger: Logger

    public init(command: String, requestID: Int, logger: Logger) {
        self.command = command
        self.requestID = requestID
        self.logger = logger
    }
}

/// Where a streaming handler sends its events: each ``yield(_:)`` becomes one `{"id":…,"event":…}` frame.
///
/// ``yield(_:)`` waits while the client is slow to read (back-pressure) and throws once the client has gone or
/// cancelled the request, so a handler looping on events ends by itself.
public struct ControlEventSink: Sendable {
    /// The request this stream answers.
    public let context: ControlContext
    private let send: @Sendable (ControlValue) async throws -> Void

    init(context: ControlContext, send: @escaping @Sendable (ControlValue) async throws -> Void) {
        self.context = context
        self.send = send
    }

    /// Sends one event to the client.
    ///
    /// - Throws: `CancellationError` after the client cancelled the request or disconnected, or ``ControlError``
    ///   (``ControlError/Code/connectionClosed``) when the frame cannot be written.
    public func yield(_ event: ControlValue) async throws {
        try Task.checkCancellation()
        try await send(event)
    }

    /// Sends the JSON form of `event` (see ``ControlValue/init(encoding:)``).
    public func yield(encoding event: some Encodable) async throws {
        try await yield(ControlValue(encoding: event))
    }
}

/// The commands a node answers on its control channel, registered by the modules that own them.
///
/// Names are dotted, module first (`node.status`, `presence.publish`); the prefix `control.` is reserved for the
/// channel's own commands (`control.cancel`, `control.commands`). Register everything before the node serves
/// requests; a handler may be registered at any time but never replaced.
public final class ControlCommandRegistry: Sendable {
    /// A request/response handler: arguments in, one result out.
    public typealias Handler = @Sendable (_ args: ControlValue, _ context: ControlContext) async throws -> ControlValue
    /// A streaming handler: sends events through the sink until it returns (the stream's end), throws (an error
    /// frame), or is cancelled because the client went away.
    public typealias StreamHandler = @Sendable (_ args: ControlValue, _ sink: ControlEventSink) async throws -> Void

    enum Entry: Sendable {
        case call(Handler)
        case stream(StreamHandler)
    }

    struct Registration: Sendable {
        var entry: Entry
        var summary: String
    }

    private let registrations = NIOLockedValueBox<[String: Registration]>([:])

    public init() {}

    /// Registers a request/response command.
    ///
    /// - Throws: ``ControlError`` (``ControlError/Code/invalidArguments``) when `name` is empty, reserved, or taken.
    public func register(_ name: String, summary: String = "", handler: @escaping Handler) throws(ControlError) {
        try add(name, Registration(entry: .call(handler), summary: summary))
    }

    /// Registers a request/response command whose arguments decode as `Arguments` and whose result encodes from
    /// `Result`; arguments that do not decode are answered with ``ControlError/Code/invalidArguments`` naming the field.
    public func register<Arguments: Decodable & Sendable, Result: Encodable & Sendable>(
        _ name: String,
        arguments: Arguments.Type,
        summary: String = "",
        handler: @escaping @Sendable (Arguments, ControlContext) async throws -> Result
    ) throws(ControlError) {
        try register(name, summary: summary) { args, context in
            let decoded = try args.decode(Arguments.self)
            return try ControlValue(encoding: try await handler(decoded, context))
        }
    }

    /// Registers a streaming command (e.g. `presence.watch`): events until the handler returns or the client leaves.
    ///
    /// - Throws: ``ControlError`` (``ControlError/Code/invalidArguments``) when `name` is empty, reserved, or taken.
    public func registerStream(_ name: String, summary: String = "", handler: @escaping StreamHandler) throws(ControlError) {
        try add(name, Registration(entry: .stream(handler), summary: summary))
    }

    /// The registered command names, sorted.
    public var commandNames: [String] {
        registrations.withLockedValue { $0.keys.sorted() }
    }

    func registration(for name: String) -> Registration? {
        registrations.withLockedValue { $0[name] }
    }

    /// Every command with whether it streams and its summary, for `control.commands`.
    func listing() -> ControlValue {
        let all = registrations.withLockedValue { $0 }
        return .array(
            all.keys.sorted().compactMap { name in
                guard let registration = all[name] else { return nil }
                let streams: Bool
                switch registration.entry {
                case .call: streams = false
                case .stream: streams = true
                }
                return ["name": .string(name), "stream": .bool(streams), "summary": .string(registration.summary)]
            }
        )
    }

    private func add(_ name: String, _ registration: Registration) throws(ControlError) {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace }) else {
            throw ControlError(.invalidArguments, "command name '\(name)' must be non-empty and contain no spaces")
        }
        guard !name.hasPrefix(Self.reservedPrefix) else {
            throw ControlError(.invalidArguments, "command name '\(name)' uses the reserved prefix '\(Self.reservedPrefix)'")
        }
        let added = registrations.withLockedValue { table -> Bool in
            guard table[name] == nil else { return false }
            table[name] = registration
            return true
        }
        guard added else { throw ControlError(.invalidArguments, "command '\(name)' is already registered") }
    }

    static let reservedPrefix = "control."
}
