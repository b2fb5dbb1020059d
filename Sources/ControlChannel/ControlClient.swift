import Foundation
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// The command side of the control channel: connects to a running node through `<data>/control.sock`.
///
/// Use it inside ``withConnection(dataDirectory:maximumFrameLength:eventLoopGroup:_:)``, which closes the connection
/// when the body returns. Requests on one connection run concurrently (each has its own id).
///
/// ```swift
/// let status = try await ControlClient.withConnection(dataDirectory: dir) { client in
///     try await client.call("node.status")
/// }
/// ```
public final class ControlClient: Sendable {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let cancellations: AsyncStream<Int>.Continuation
    private let state = NIOLockedValueBox(State())

    private struct State {
        var nextID = 1
        var pending: [Int: Pending] = [:]
        /// Set once the connection is unusable; later requests fail with it.
        var closed: ControlError?
    }

    private struct Pending {
        var command: String
        var streaming: Bool
        var continuation: AsyncThrowingStream<ControlValue, any Error>.Continuation
    }

    private init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, cancellations: AsyncStream<Int>.Continuation) {
        self.outbound = outbound
        self.cancellations = cancellations
    }

    /// Connects to the node serving `dataDirectory`, runs `body` with the client, then disconnects.
    ///
    /// - Parameters:
    ///   - maximumFrameLength: Longest answer frame accepted, in bytes (default 16 MiB).
    /// - Throws: ``ControlError`` ``ControlError/Code/notRunning`` ("no smf node is running with data dir X (no
    ///   control.sock)") when nothing listens there, ``ControlError/Code/socketFailure`` when the socket cannot be
    ///   used, and whatever `body` throws.
    public static func withConnection<Result: Sendable>(
        dataDirectory: String,
        maximumFrameLength: Int = 16 << 20,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (ControlClient) async throws -> Result
    ) async throws -> Result {
        let path = ControlSocket.path(forDataDirectory: dataDirectory)
        let channel = try await connect(path: path, dataDirectory: dataDirectory, maximumFrameLength: maximumFrameLength, eventLoopGroup: eventLoopGroup)
        return try await channel.executeThenClose { inbound, outbound in
            let (cancelled, cancellations) = AsyncStream.makeStream(of: Int.self)
            let client = ControlClient(outbound: outbound, cancellations: cancellations)
            defer {
                cancellations.finish()
                client.shutDown(ControlError(.connectionClosed, "the control connection to \(dataDirectory) was closed"))
            }
            return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask { await client.read(inbound, maximumFrameLength: maximumFrameLength) }
                group.addTask { await client.sendCancellations(cancelled) }
                let result = try await body(client)
                group.cancelAll()
                return result
            }
        }
    }

    /// Sends `command` and returns its result.
    ///
    /// - Throws: ``ControlError`` with the node's code and message when it answers with an error (e.g.
    ///   ``ControlError/Code/unknownCommand``), ``ControlError/Code/connectionClosed`` when the node goes away first,
    ///   or `CancellationError` (after telling the node to cancel the request).
    public func call(_ command: String, _ args: ControlValue = [:]) async throws -> ControlValue {
        let (_, results) = try await send(command, args, streaming: false)
        var iterator = results.makeAsyncIterator()
        guard let result = try await iterator.next() else {
            try Task.checkCancellation()
            throw ControlError(.protocolViolation, "the node ended \(command) without a result")
        }
        return result
    }

    /// Sends `args` encoded from `Arguments` and decodes the result as `Result`.
    public func call<Arguments: Encodable, Result: Decodable>(
        _ command: String,
        arguments: Arguments,
        as resultType: Result.Type = Result.self
    ) async throws -> Result {
        let result = try await call(command, try ControlValue(encoding: arguments))
        do {
            return try result.decode(Result.self)
        } catch {
            throw ControlError(.protocolViolation, "the result of \(command) does not match \(Result.self): \(error.message)")
        }
    }

    /// Starts a streaming command (e.g. `presence.watch`) and returns its events.
    ///
    /// The sequence ends when the node sends the end frame; it throws the node's ``ControlError`` if the command fails.
    /// Ending the iteration early (a `break`, or cancelling the task) cancels the command on the node.
    /// Called on a request/response command, the sequence holds its one result.
    public func stream(_ command: String, _ args: ControlValue = [:]) async throws -> AsyncThrowingStream<ControlValue, any Error> {
        try await send(command, args, streaming: true).1
    }

    // MARK: - Requests

    private func send(_ command: String, _ args: ControlValue, streaming: Bool) async throws -> (Int, AsyncThrowingStream<ControlValue, any Error>) {
        try Task.checkCancellation()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ControlValue.self, throwing: (any Error).self)
        let registered = state.withLockedValue { state -> Result<Int, ControlError> in
            if let closed = state.closed { return .failure(closed) }
            let id = state.nextID
            state.nextID += 1
            state.pending[id] = Pending(command: command, streaming: streaming, continuation: continuation)
            return .success(id)
        }
        let id = try registered.get()
        continuation.onTermination = { [weak self] reason in
            guard case .cancelled = reason else { return }
            self?.abandon(id)
        }
        let frame = try ControlFrameCoding.encode(ControlRequestFrame(id: id, command: command, args: args))
        do {
            try await outbound.write(frame)
        } catch {
            let failure = error is CancellationError ? error : ControlError(.connectionClosed, "cannot send \(command): the control connection is closed")
            finish(id, throwing: failure)
            throw failure
        }
        return (id, stream)
    }

    /// The caller stopped waiting for request `id`: forget it and ask the node to cancel it.
    private func abandon(_ id: Int) {
        let wasPending = state.withLockedValue { $0.pending.removeValue(forKey: id) != nil }
        if wasPending { cancellations.yield(id) }
    }

    private func finish(_ id: Int, throwing error: (any Error)? = nil) {
        guard let pending = state.withLockedValue({ $0.pending.removeValue(forKey: id) }) else { return }
        pending.continuation.finish(throwing: error)
    }

    /// Fails every request in progress with `error` and refuses new ones.
    private func shutDown(_ error: ControlError) {
        let pending = state.withLockedValue { state -> [Pending] in
            if state.closed == nil { state.closed = error }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for request in pending { request.continuation.finish(throwing: error) }
    }

    // MARK: - Connection tasks

    private func read(_ inbound: NIOAsyncChannelInboundStream<ControlInboundLine>, maximumFrameLength: Int) async {
        do {
            for try await unit in inbound {
                switch unit {
                case .tooLong:
                    shutDown(ControlError(.frameTooLarge, "the node sent a frame longer than \(maximumFrameLength) bytes"))
                    return
                case .line(let line):
                    guard let frame = ControlFrameCoding.decodeResponse(line) else {
                        shutDown(ControlError(.protocolViolation, "the node sent a frame that is not a control response: \(String(buffer: line).prefix(200))"))
                        return
                    }
                    deliver(frame)
                }
            }
            shutDown(ControlError(.connectionClosed, "the node closed the control connection (it may have stopped)"))
        } catch {
            shutDown(ControlError(.connectionClosed, "the control connection failed: \(error)"))
        }
    }

    private func deliver(_ frame: ControlResponseFrame) {
        switch frame {
        case .failure(nil, let error):
            // The node could not tell which request a frame belonged to; none can be trusted to finish.
            shutDown(error)
        case .failure(.some(let id), let error):
            finish(id, throwing: error)
        case .result(let id, let value):
            guard let pending = state.withLockedValue({ $0.pending.removeValue(forKey: id) }) else { return }
            pending.continuation.yield(value)
            pending.continuation.finish()
        case .event(let id, let value):
            guard let pending = state.withLockedValue({ $0.pending[id] }) else { return }
            if pending.streaming {
                pending.continuation.yield(value)
            } else {
                finish(id, throwing: ControlError(.protocolViolation, "\(pending.command) streams events; use stream(_:_:) for it"))
                cancellations.yield(id)
            }
        case .end(let id):
            finish(id)
        }
    }

    private func sendCancellations(_ ids: AsyncStream<Int>) async {
        for await id in ids {
            guard let frame = try? ControlFrameCoding.encode(ControlRequestFrame(id: 0, command: "control.cancel", args: ["id": .number(Double(id))])) else {
                continue
            }
            do { try await outbound.write(frame) } catch { return }
        }
    }

    // MARK: - Connecting

    private static func connect(
        path: String,
        dataDirectory: String,
        maximumFrameLength: Int,
        eventLoopGroup: any EventLoopGroup
    ) async throws(ControlError) -> NIOAsyncChannel<ControlInboundLine, ByteBuffer> {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ControlError.notRunning(dataDirectory: dataDirectory, reason: "no \(ControlSocket.fileName)")
        }
        guard path.utf8.count <= ControlSocket.maximumPathLength else {
            throw ControlError(.socketFailure, "control socket path \(path) is longer than the \(ControlSocket.maximumPathLength) bytes a Unix socket allows")
        }
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(.seconds(5))
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlLineDecoder(maximumLength: maximumFrameLength)))
                        return try NIOAsyncChannel<ControlInboundLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError where error.errnoCode == ECONNREFUSED {
            throw ControlError.notRunning(dataDirectory: dataDirectory, reason: "stale \(ControlSocket.fileName) left by a node that stopped")
        } catch let error as IOError where error.errnoCode == ENOENT {
            throw ControlError.notRunning(dataDirectory: dataDirectory, reason: "no \(ControlSocket.fileName)")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw ControlError(.socketFailure, "permission denied on \(path); the node runs as another user")
        } catch {
            throw ControlError(.socketFailure, "cannot connect to \(path): \(error)")
        }
    }
}
