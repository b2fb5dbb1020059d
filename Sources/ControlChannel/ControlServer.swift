import Foundation
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Limits of a ``ControlServer``.
public struct ControlServerConfiguration: Sendable {
    /// Longest accepted frame in bytes, newline excluded; a longer one is answered with
    /// ``ControlError/Code/frameTooLarge`` and skipped. Default 1 MiB.
    public var maximumFrameLength: Int = 1 << 20
    /// Requests one connection may have in progress at once (streams included); more are answered with
    /// ``ControlError/Code/tooManyRequests``. Default 64.
    public var maximumRequestsPerConnection: Int = 64

    public init() {}
}

/// The node side of the control channel: a Unix domain socket at `<data>/control.sock` (mode 0600) serving
/// newline-delimited JSON requests from ``ControlCommandRegistry``.
///
/// ``bind()`` opens the socket (replacing a stale one left by a crashed node, refusing when a live node owns it);
/// ``run()`` serves until its task is cancelled, then removes the socket file. Each connection and each request
/// runs in its own task, so a slow or stuck client never holds up another. Wrap ``run()`` in
/// `cancelWhenGracefulShutdown` to use it as a swift-service-lifecycle `Service`.
public final class ControlServer: Sendable {
    typealias ServerChannel = NIOAsyncChannel<NIOAsyncChannel<ControlInboundLine, ByteBuffer>, Never>

    /// The data directory the socket belongs to (named in errors).
    public let dataDirectory: String
    /// `<dataDirectory>/control.sock`.
    public let socketPath: String
    public let registry: ControlCommandRegistry
    public let configuration: ControlServerConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox<State>(.idle)
    private let connectionCounter = NIOLockedValueBox(0)

    private enum State {
        case idle
        case binding
        case bound(ServerChannel, fileNumber: UInt64?)
        case running(fileNumber: UInt64?)
        case closed
    }

    public init(
        dataDirectory: String,
        registry: ControlCommandRegistry,
        configuration: ControlServerConfiguration = ControlServerConfiguration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.dataDirectory = dataDirectory
        self.socketPath = ControlSocket.path(forDataDirectory: dataDirectory)
        self.registry = registry
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Opens `<data>/control.sock` with mode 0600; calling it again once bound does nothing.
    ///
    /// A socket file nobody answers on (a node that crashed) is removed and replaced.
    ///
    /// - Throws: ``ControlError`` ``ControlError/Code/alreadyRunning`` ("another smf node is running with data dir X")
    ///   when a live node answers on the socket, or ``ControlError/Code/socketFailure`` when the path is too long,
    ///   is not a socket, or cannot be bound.
    public func bind() async throws(ControlError) {
        let proceed = state.withLockedValue { state -> Bool? in
            switch state {
            case .idle:
                state = .binding
                return true
            case .binding, .bound, .running: return false
            case .closed: return nil
            }
        }
        guard let proceed else { throw ControlError(.socketFailure, "the control server for \(dataDirectory) has been closed") }
        guard proceed else { return }
        do {
            let (channel, fileNumber) = try await openSocket()
            let keep = state.withLockedValue { state -> Bool in
                guard case .binding = state else { return false }
                state = .bound(channel, fileNumber: fileNumber)
                return true
            }
            if !keep {
                try? await channel.channel.close()
                removeSocketFile(fileNumber: fileNumber)
            }
        } catch {
            state.withLockedValue { state in if case .binding = state { state = .idle } }
            throw error
        }
    }

    /// Serves connections until the task is cancelled, then closes them and removes the socket file.
    ///
    /// Binds first when ``bind()`` was not called. Requests in progress are cancelled when serving stops.
    public func run() async throws {
        try await bind()
        let taken = state.withLockedValue { state -> (ServerChannel, UInt64?)? in
            guard case .bound(let channel, let fileNumber) = state else { return nil }
            state = .running(fileNumber: fileNumber)
            return (channel, fileNumber)
        }
        guard let (server, fileNumber) = taken else {
            throw ControlError(.socketFailure, "the control server for \(dataDirectory) is already running or closed")
        }
        logger.info("control channel open", metadata: ["control.socket": "\(socketPath)"])
        defer {
            removeSocketFile(fileNumber: fileNumber)
            state.withLockedValue { $0 = .closed }
            logger.debug("control channel closed", metadata: ["control.socket": "\(socketPath)"])
        }
        do {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        let number = connectionCounter.withLockedValue { counter in
                            counter += 1
                            return counter
                        }
                        group.addTask { await self.serve(connection, number: number) }
                    }
                }
            }
        } catch is CancellationError {
            // Cancellation is how serving ends.
        }
    }

    /// Closes a socket that was bound but never served (e.g. the node failed to start), removing its file.
    public func close() async {
        let bound = state.withLockedValue { state -> (ServerChannel, UInt64?)? in
            switch state {
            case .bound(let channel, let fileNumber):
                state = .closed
                return (channel, fileNumber)
            case .idle, .binding:
                state = .closed
                return nil
            case .running, .closed:
                return nil
            }
        }
        guard let (channel, fileNumber) = bound else { return }
        try? await channel.channel.close()
        removeSocketFile(fileNumber: fileNumber)
    }

    // MARK: - Socket

    private func openSocket() async throws(ControlError) -> (ServerChannel, UInt64?) {
        guard socketPath.utf8.count <= ControlSocket.maximumPathLength else {
            throw ControlError(
                .socketFailure,
                "control socket path \(socketPath) is \(socketPath.utf8.count) bytes, longer than the \(ControlSocket.maximumPathLength) a Unix socket allows; use a shorter --data path"
            )
        }
        switch await ControlSocket.probe(socketPath, eventLoopGroup: eventLoopGroup) {
        case .absent:
            break
        case .live:
            throw ControlError.alreadyRunning(dataDirectory: dataDirectory)
        case .notASocket:
            throw ControlError(.socketFailure, "\(socketPath) exists and is not a socket; move it away so the node can open its control channel")
        case .stale:
            logger.notice("removing stale control socket left by a node that stopped", metadata: ["control.socket": "\(socketPath)"])
            do {
                try FileManager.default.removeItem(atPath: socketPath)
            } catch {
                throw ControlError(.socketFailure, "cannot remove stale control socket \(socketPath): \(error.localizedDescription)")
            }
        case .unknown(let reason):
            throw ControlError(.socketFailure, "cannot tell whether a node is using \(socketPath): \(reason)")
        }

        let maximumFrameLength = configuration.maximumFrameLength
        let channel: ServerChannel
        do {
            channel = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 64)
                .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: false) { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(ControlLineDecoder(maximumLength: maximumFrameLength))
                        )
                        return try NIOAsyncChannel<ControlInboundLine, ByteBuffer>(wrappingChannelSynchronously: child)
                    }
                }
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // Another node bound between the probe and here.
            throw ControlError.alreadyRunning(dataDirectory: dataDirectory)
        } catch {
            throw ControlError(.socketFailure, "cannot open control socket \(socketPath): \(error)")
        }
        do {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: socketPath)
        } catch {
            try? await channel.channel.close()
            try? FileManager.default.removeItem(atPath: socketPath)
            throw ControlError(.socketFailure, "cannot restrict control socket \(socketPath) to its owner: \(error.localizedDescription)")
        }
        return (channel, ControlSocket.fileNumber(socketPath))
    }

    /// Removes the socket file if it is still the one this server created (never another node's).
    private func removeSocketFile(fileNumber: UInt64?) {
        guard let fileNumber, ControlSocket.fileNumber(socketPath) == fileNumber else { return }
        try? FileManager.default.removeItem(atPath: socketPath)
    }

    // MARK: - Connections

    private func serve(_ connection: NIOAsyncChannel<ControlInboundLine, ByteBuffer>, number: Int) async {
        var logger = self.logger
        logger[metadataKey: "control.connection"] = "\(number)"
        logger.debug("control client connected")
        do {
            try await connection.executeThenClose { inbound, outbound in
                let session = ControlSession(
                    outbound: outbound,
                    registry: registry,
                    configuration: configuration,
                    logger: logger
                )
                try await withThrowingDiscardingTaskGroup { group in
                    for try await unit in inbound {
                        switch unit {
                        case .tooLong:
                            await session.send(
                                .failure(
                                    id: nil,
                                    ControlError(.frameTooLarge, "frame exceeds \(configuration.maximumFrameLength) bytes and was discarded")
                                )
                            )
                        case .line(let line):
                            switch ControlFrameCoding.decodeRequest(line) {
                            case .rejected(let answer):
                                await session.send(answer)
                            case .request(let request):
                                if let task = await session.start(request) {
                                    group.addTask {
                                        let final = await withTaskCancellationHandler {
                                            await task.value
                                        } onCancel: {
                                            task.cancel()
                                        }
                                        // Written from here, not from the request's task: a cancelled task's
                                        // writes are dropped, and a client that cancelled still gets the answer.
                                        await session.send(final)
                                    }
                                }
                            }
                        }
                    }
                    // The client closed its side: nobody is left to answer, so stop its handlers.
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            logger.debug("control connection failed", metadata: ["control.error": "\(error)"])
        }
        logger.debug("control client disconnected")
    }
}

/// One client connection: its requests in progress (by id) and the writer their frames go through.
final class ControlSession: Sendable {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let registry: ControlCommandRegistry
    private let configuration: ControlServerConfiguration
    private let logger: Logger
    private let inProgress = NIOLockedValueBox<[Int: Request]>([:])

    private struct Request {
        var task: Task<ControlResponseFrame, Never>?
        var cancelledByClient = false
    }

    init(
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        registry: ControlCommandRegistry,
        configuration: ControlServerConfiguration,
        logger: Logger
    ) {
        self.outbound = outbound
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    /// Writes one frame; failures mean the client has gone, which its own task notices.
    func send(_ frame: ControlResponseFrame) async {
        do {
            try await outbound.write(ControlFrameCoding.encode(frame))
        } catch {
            logger.debug("control frame not delivered", metadata: ["control.error": "\(error)"])
        }
    }

    /// Begins `request`; returns the task running it (its value is the final frame to send), or nil when the
    /// request was answered at once.
    func start(_ request: ControlRequestFrame) async -> Task<ControlResponseFrame, Never>? {
        switch request.command {
        case "control.cancel":
            await send(cancel(request))
            return nil
        case "control.commands":
            await send(.result(id: request.id, registry.listing()))
            return nil
        default:
            break
        }
        guard let registration = registry.registration(for: request.command) else {
            await send(.failure(id: request.id, ControlError(.unknownCommand, "unknown command '\(request.command)'")))
            return nil
        }
        let admitted = inProgress.withLockedValue { table -> ControlError? in
            if table[request.id] != nil {
                return ControlError(.duplicateRequestID, "request id \(request.id) is already in progress on this connection")
            }
            if table.count >= configuration.maximumRequestsPerConnection {
                return ControlError(
                    .tooManyRequests,
                    "this connection already has \(table.count) requests in progress (limit \(configuration.maximumRequestsPerConnection))"
                )
            }
            table[request.id] = Request()
            return nil
        }
        if let admitted {
            await send(.failure(id: request.id, admitted))
            return nil
        }
        let task = Task { await self.execute(request, registration.entry) }
        let cancelNow = inProgress.withLockedValue { table -> Bool in
            guard table[request.id] != nil else { return false }
            table[request.id]?.task = task
            return table[request.id]?.cancelledByClient ?? false
        }
        if cancelNow { task.cancel() }
        return task
    }

    /// `control.cancel {"id": N}`: cancels request N; answers whether it was in progress.
    private func cancel(_ request: ControlRequestFrame) -> ControlResponseFrame {
        guard let target = request.args["id"]?.intValue else {
            return .failure(id: request.id, ControlError(.invalidArguments, "control.cancel needs an integer 'id' of the request to cancel"))
        }
        let task = inProgress.withLockedValue { table -> Task<ControlResponseFrame, Never>?? in
            guard table[target] != nil else { return .none }
            table[target]?.cancelledByClient = true
            return .some(table[target]?.task)
        }
        guard let task else { return .result(id: request.id, ["cancelled": false]) }
        task?.cancel()
        return .result(id: request.id, ["cancelled": true])
    }

    /// Runs the handler; returns the frame that ends the request (result, end, or error).
    private func execute(_ request: ControlRequestFrame, _ entry: ControlCommandRegistry.Entry) async -> ControlResponseFrame {
        var logger = self.logger
        logger[metadataKey: "control.command"] = "\(request.command)"
        logger[metadataKey: "control.request.id"] = "\(request.id)"
        let context = ControlContext(command: request.command, requestID: request.id, logger: logger)
        logger.debug("control request")
        let final: ControlResponseFrame
        do {
            switch entry {
            case .call(let handler):
                final = .result(id: request.id, try await handler(request.args, context))
            case .stream(let handler):
                let outbound = self.outbound
                let sink = ControlEventSink(context: context) { event in
                    do {
                        try await outbound.write(ControlFrameCoding.encode(.event(id: request.id, event)))
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw ControlError(.connectionClosed, "the client of \(request.command) disconnected")
                    }
                }
                try await handler(request.args, sink)
                final = .end(id: request.id)
            }
        } catch {
            final = .failure(id: request.id, describe(error, request: request))
        }
        inProgress.withLockedValue { _ = $0.removeValue(forKey: request.id) }
        return final
    }

    private func describe(_ error: any Error, request: ControlRequestFrame) -> ControlError {
        if let error = error as? ControlError { return error }
        if error is CancellationError || Task.isCancelled {
            let byClient = inProgress.withLockedValue { $0[request.id]?.cancelledByClient ?? false }
            return ControlError(
                .cancelled,
                byClient ? "\(request.command) was cancelled by the client" : "\(request.command) was cancelled because the node is stopping"
            )
        }
        logger.notice(
            "control command failed",
            metadata: ["control.command": "\(request.command)", "control.error": "\(error)"]
        )
        return ControlError(.internalError, "\(request.command) failed: \(error)")
    }
}
