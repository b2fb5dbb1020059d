import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ControlChannel

struct ControlTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh short directory under /tmp (Unix socket paths are limited to 107 bytes).
func makeDataDirectory() throws -> String {
    let path = "/tmp/smf-ctl-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let testLogger: Logger = {
    var logger = Logger(label: "smf.control.test", factory: { _ in SwiftLogNoOpLogHandler() })
    logger.logLevel = .critical
    return logger
}()

/// Runs `body` while a bound ``ControlServer`` serves `registry` in a temporary data directory, then stops it.
func withServer<Result: Sendable>(
    registry: ControlCommandRegistry,
    configuration: ControlServerConfiguration = ControlServerConfiguration(),
    dataDirectory: String? = nil,
    _ body: (ControlServer, String) async throws -> Result
) async throws -> Result {
    let directory = try dataDirectory ?? makeDataDirectory()
    defer { if dataDirectory == nil { try? FileManager.default.removeItem(atPath: directory) } }
    let server = ControlServer(dataDirectory: directory, registry: registry, configuration: configuration, logger: testLogger)
    try await server.bind()
    return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
        group.addTask { try await server.run() }
        let result = try await body(server, directory)
        group.cancelAll()
        try await group.waitForAll()
        return result
    }
}

/// Gives up on `operation` after `timeout`, so a broken test fails instead of hanging (never a timing assertion).
func withDeadline<Result: Sendable>(
    _ timeout: Duration = .seconds(10),
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw ControlTestError("operation did not finish within \(timeout)")
        }
        return result
    }
}

/// A one-shot signal a test can wait for (e.g. "the handler saw cancellation").
final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func fire() { continuation.yield() }

    /// Waits for ``fire()``; throws when it does not come within `timeout`.
    func wait(timeout: Duration = .seconds(10)) async throws {
        let stream = self.stream
        try await withDeadline(timeout) {
            var iterator = stream.makeAsyncIterator()
            _ = await iterator.next()
        }
    }
}

/// A raw socket client for sending arbitrary bytes and reading the node's frames one by one.
struct RawConnection {
    var inbound: NIOAsyncChannelInboundStream<ControlInboundLine>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    static func with<Result>(
        dataDirectory: String,
        _ body: (inout RawConnection) async throws -> Result
    ) async throws -> Result {
        let path = ControlSocket.path(forDataDirectory: dataDirectory)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlLineDecoder(maximumLength: 16 << 20)))
                    return try NIOAsyncChannel<ControlInboundLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = RawConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// The next frame from the node, as JSON.
    mutating func receive() async throws -> ControlValue {
        guard let unit = try await inbound.next() else { throw ControlTestError("the node closed the connection") }
        guard case .line(let line) = unit else { throw ControlTestError("the node sent an oversized frame") }
        return try JSONDecoder().decode(ControlValue.self, from: Data(line.readableBytesView))
    }

    /// True when the node closes the connection before sending anything else.
    mutating func receiveEndOfStream() async throws -> Bool {
        try await inbound.next() == nil
    }
}

extension ControlValue {
    /// `error.code` of an error frame.
    var errorCode: String? { self["error"]?["code"]?.stringValue }
    var errorMessage: String? { self["error"]?["message"]?.stringValue }
}
