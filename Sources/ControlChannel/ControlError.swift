/// A control command failed, or the control channel itself did: a machine-readable code and a message for people.
///
/// Handlers throw it to answer `{"ok":false,"error":{"code":…,"message":…}}`; the client throws it when a call is
/// answered with an error or when no node can be reached. Modules add their own codes with
/// ``Code/init(_:)`` (e.g. `ControlError.Code("presence.bad-status")`).
public struct ControlError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; the wire form is ``rawValue`` (lower-case, dot and dash separated).
    public struct Code: Hashable, Sendable, RawRepresentable, ExpressibleByStringLiteral, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// The node has no command of that name.
        public static let unknownCommand = Code("unknown-command")
        /// The arguments are missing a field or have one of the wrong type.
        public static let invalidArguments = Code("invalid-arguments")
        /// A frame is not a JSON request object (`{"id":…,"command":…,"args":…}`).
        public static let malformedFrame = Code("malformed-frame")
        /// A frame exceeded the configured size limit.
        public static let frameTooLarge = Code("frame-too-large")
        /// A request reused the id of a request still in progress on the same connection.
        public static let duplicateRequestID = Code("duplicate-id")
        /// The connection has too many requests in progress.
        public static let tooManyRequests = Code("too-many-requests")
        /// The request was cancelled (by the client or because the node is stopping).
        public static let cancelled = Code("cancelled")
        /// A handler failed with an error that is not a ``ControlError``.
        public static let internalError = Code("internal")
        /// No node is listening on the data directory's control socket.
        public static let notRunning = Code("not-running")
        /// Another node already serves the data directory.
        public static let alreadyRunning = Code("already-running")
        /// The control socket could not be opened or used (path too long, permissions, not a socket, …).
        public static let socketFailure = Code("socket")
        /// The connection closed before the answer arrived.
        public static let connectionClosed = Code("connection-closed")
        /// The peer sent a frame this side cannot interpret.
        public static let protocolViolation = Code("protocol")
    }

    public var code: Code
    /// What went wrong, in words that name the command, field or path involved.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ControlError {
    /// "no smf node is running with data dir X (…)": nothing answers on the control socket.
    static func notRunning(dataDirectory: String, reason: String) -> ControlError {
        ControlError(.notRunning, "no smf node is running with data dir \(dataDirectory) (\(reason))")
    }

    /// "another smf node is running with data dir X": a live node already owns the control socket.
    static func alreadyRunning(dataDirectory: String) -> ControlError {
        ControlError(.alreadyRunning, "another smf node is running with data dir \(dataDirectory)")
    }
}
