import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import ControlChannel

/// Requests and responses over a real Unix socket in a temporary data directory.
@Suite struct ControlServerTests {
    struct EchoArguments: Codable, Sendable {
        var text: String
        var times: Int?
    }

    struct EchoResult: Codable, Sendable, Equatable {
        var echoed: [String]
    }

    private func makeRegistry() throws -> ControlCommandRegistry {
        let registry = ControlCommandRegistry()
        try registry.register("test.echo", summary: "returns its arguments") { args, _ in args }
        try registry.register("test.repeat", arguments: EchoArguments.self) { args, _ in
            EchoResult(echoed: Array(repeating: args.text, count: args.times ?? 1))
        }
        try registry.register("test.refuse") { _, context in
            throw ControlError("test.refused", "\(context.command) refuses request \(context.requestID)")
        }
        try registry.register("test.crash") { _, _ in throw CocoaError(.fileNoSuchFile) }
        try registry.registerStream("test.count") { args, sink in
            let count = args["count"]?.intValue ?? 3
            for n in 0..<count { try await sink.yield(["n": .number(Double(n))]) }
        }
        try registry.registerStream("test.fail-after-one") { _, sink in
            try await sink.yield("first")
            throw ControlError("test.broken", "the source broke")
        }
        return registry
    }

    // MARK: - Request/response

    @Test func callReturnsTheHandlersResult() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let result = try await ControlClient.withConnection(dataDirectory: directory) { client in
                try await client.call("test.echo", ["a": [1, 2], "b": "x"])
            }
            #expect(result == ["a": [1, 2], "b": "x"])
        }
    }

    @Test func typedHandlersDecodeArgumentsAndEncodeResults() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let result = try await ControlClient.withConnection(dataDirectory: directory) { client in
                try await client.call("test.repeat", arguments: EchoArguments(text: "hi", times: 3), as: EchoResult.self)
            }
            #expect(result == EchoResult(echoed: ["hi", "hi", "hi"]))
        }
    }

    @Test func typedHandlersAnswerInvalidArgumentsNamingTheField() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let error = try await ControlClient.withConnection(dataDirectory: directory) { client in
                await #expect(throws: ControlError.self) { try await client.call("test.repeat", ["times": 2]) }
            }
            #expect(error?.code == .invalidArguments)
            #expect(error?.message == "missing 'text'")
        }
    }

    @Test func unknownCommandIsAnsweredWithAnError() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let error = try await ControlClient.withConnection(dataDirectory: directory) { client in
                await #expect(throws: ControlError.self) { try await client.call("presence.nothing") }
            }
            #expect(error?.code == .unknownCommand)
            #expect(error?.message == "unknown command 'presence.nothing'")
        }
    }

    @Test func handlerErrorsKeepTheirCodeAndMessage() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                let refused = await #expect(throws: ControlError.self) { try await client.call("test.refuse") }
                #expect(refused?.code == ControlError.Code("test.refused"))
                #expect(refused?.message == "test.refuse refuses request 1")
                let crashed = await #expect(throws: ControlError.self) { try await client.call("test.crash") }
                #expect(crashed?.code == .internalError)
                #expect(crashed?.message.hasPrefix("test.crash failed:") == true)
                // The connection is still usable after errors.
                let still = try await client.call("test.echo", "still here")
                #expect(still == "still here")
            }
        }
    }

    @Test func controlCommandsListsRegisteredCommands() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let listing = try await ControlClient.withConnection(dataDirectory: directory) { client in
                try await client.call("control.commands")
            }
            let names = listing.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(names == ["test.count", "test.crash", "test.echo", "test.fail-after-one", "test.refuse", "test.repeat"])
            #expect(listing.arrayValue?.first?["stream"] == true)
            #expect(listing.arrayValue?.first(where: { $0["name"] == "test.echo" })?["summary"] == "returns its arguments")
        }
    }

    @Test func manyRequestsOnOneConnectionRunConcurrentlyAndMatchTheirIDs() async throws {
        let registry = try makeRegistry()
        let gate = Signal()
        try registry.register("test.wait") { _, _ in
            try await gate.wait()
            return "released"
        }
        try await withServer(registry: registry) { _, directory in
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let answer = try await client.call("test.wait")
                        #expect(answer == "released")
                    }
                    // These complete while test.wait is still in progress on the same connection.
                    for n in 0..<50 {
                        #expect(try await client.call("test.echo", .number(Double(n))) == .number(Double(n)))
                    }
                    gate.fire()
                    try await group.waitForAll()
                }
            }
        }
    }

    // MARK: - Streams

    @Test func streamDeliversEventsInOrderThenEnds() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let events = try await ControlClient.withConnection(dataDirectory: directory) { client in
                var events: [Int] = []
                for try await event in try await client.stream("test.count", ["count": 500]) {
                    events.append(event["n"]?.intValue ?? -1)
                }
                return events
            }
            #expect(events == Array(0..<500))
        }
    }

    @Test func streamFramesEndWithAnEndFrame() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                try await connection.send(#"{"id":5,"command":"test.count","args":{"count":2}}"# + "\n")
                #expect(try await connection.receive() == ["id": 5, "event": ["n": 0]])
                #expect(try await connection.receive() == ["id": 5, "event": ["n": 1]])
                #expect(try await connection.receive() == ["id": 5, "end": true])
            }
        }
    }

    @Test func streamHandlerErrorEndsTheStreamWithThatError() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                var received: [ControlValue] = []
                let error = await #expect(throws: ControlError.self) {
                    for try await event in try await client.stream("test.fail-after-one") { received.append(event) }
                }
                #expect(received == ["first"])
                #expect(error?.code == ControlError.Code("test.broken"))
            }
        }
    }

    @Test func leavingAStreamEarlyCancelsTheHandlerOnTheNode() async throws {
        let registry = try makeRegistry()
        let cancelled = Signal()
        try registry.registerStream("test.forever") { _, sink in
            var n = 0
            do {
                while true {
                    try await sink.yield(.number(Double(n)))
                    n += 1
                    try await Task.sleep(for: .milliseconds(1))
                }
            } catch {
                cancelled.fire()
                throw error
            }
        }
        try await withServer(registry: registry) { _, directory in
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                var seen: [Int] = []
                for try await event in try await client.stream("test.forever") {
                    seen.append(event.intValue ?? -1)
                    if seen.count == 3 { break }
                }
                #expect(seen == [0, 1, 2])
                try await cancelled.wait()
                // The connection stays usable for other requests.
                #expect(try await client.call("test.echo", 1) == 1)
            }
        }
    }

    @Test func clientDisconnectCancelsItsStreamHandler() async throws {
        let registry = try makeRegistry()
        let started = Signal()
        let cancelled = Signal()
        try registry.registerStream("test.idle") { _, sink in
            try await sink.yield("started")
            started.fire()
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                cancelled.fire()
                throw error
            }
        }
        try await withServer(registry: registry) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                try await connection.send(#"{"id":1,"command":"test.idle"}"# + "\n")
                #expect(try await connection.receive() == ["id": 1, "event": "started"])
            }
            try await started.wait()
            try await cancelled.wait()
        }
    }

    @Test func controlCancelStopsOneRequestAndAnswersCancelled() async throws {
        let registry = try makeRegistry()
        try registry.register("test.hang") { _, _ in
            try await Task.sleep(for: .seconds(3600))
            return nil
        }
        try await withServer(registry: registry) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                try await connection.send(#"{"id":1,"command":"test.hang"}"# + "\n" + #"{"id":2,"command":"control.cancel","args":{"id":1}}"# + "\n")
                var frames: [ControlValue] = []
                frames.append(try await connection.receive())
                frames.append(try await connection.receive())
                let answer = try #require(frames.first { $0["id"] == 2 })
                let cancelled = try #require(frames.first { $0["id"] == 1 })
                #expect(answer == ["id": 2, "ok": true, "result": ["cancelled": true]])
                #expect(cancelled.errorCode == "cancelled")
                #expect(cancelled.errorMessage == "test.hang was cancelled by the client")
                try await connection.send(#"{"id":3,"command":"control.cancel","args":{"id":1}}"# + "\n")
                #expect(try await connection.receive() == ["id": 3, "ok": true, "result": ["cancelled": false]])
            }
        }
    }

    @Test func callOnAStreamingCommandFailsAndStreamOnACallYieldsItsResult() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                let error = await #expect(throws: ControlError.self) { try await client.call("test.count") }
                #expect(error?.code == .protocolViolation)
                var results: [ControlValue] = []
                for try await value in try await client.stream("test.echo", "once") { results.append(value) }
                #expect(results == ["once"])
            }
        }
    }

    // MARK: - Malformed and oversized frames

    @Test func malformedFramesAreAnsweredAndTheConnectionStaysUsable() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                try await connection.send("this is not json\n")
                let notJSON = try await connection.receive()
                #expect(notJSON["id"] == .null)
                #expect(notJSON["ok"] == false)
                #expect(notJSON.errorCode == "malformed-frame")

                try await connection.send(#"{"id":4,"args":{}}"# + "\n")
                let noCommand = try await connection.receive()
                #expect(noCommand["id"] == 4)
                #expect(noCommand.errorMessage == "frame needs a non-empty string 'command'")

                try await connection.send("\u{00}\u{FF}garbage{{{\n[]\n")
                #expect(try await connection.receive().errorCode == "malformed-frame")
                #expect(try await connection.receive().errorCode == "malformed-frame")

                try await connection.send(#"{"id":6,"command":"test.echo","args":"ok"}"# + "\n")
                #expect(try await connection.receive() == ["id": 6, "ok": true, "result": "ok"])
            }
        }
    }

    @Test func oversizedFrameIsRefusedAndTheNextFrameIsServed() async throws {
        var configuration = ControlServerConfiguration()
        configuration.maximumFrameLength = 4096
        try await withServer(registry: makeRegistry(), configuration: configuration) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                let huge = #"{"id":1,"command":"test.echo","args":""# + String(repeating: "x", count: 100_000) + "\"}\n"
                try await connection.send(huge + #"{"id":2,"command":"test.echo","args":"small"}"# + "\n")
                let refused = try await connection.receive()
                #expect(refused["id"] == .null)
                #expect(refused.errorCode == "frame-too-large")
                #expect(refused.errorMessage == "frame exceeds 4096 bytes and was discarded")
                #expect(try await connection.receive() == ["id": 2, "ok": true, "result": "small"])
            }
        }
    }

    @Test func duplicateInFlightIDIsRefused() async throws {
        let registry = try makeRegistry()
        let gate = Signal()
        try registry.register("test.wait") { _, _ in
            try await gate.wait()
            return "done"
        }
        try await withServer(registry: registry) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                try await connection.send(#"{"id":1,"command":"test.wait"}"# + "\n" + #"{"id":1,"command":"test.echo"}"# + "\n")
                let duplicate = try await connection.receive()
                #expect(duplicate["id"] == 1)
                #expect(duplicate.errorCode == "duplicate-id")
                gate.fire()
                #expect(try await connection.receive() == ["id": 1, "ok": true, "result": "done"])
            }
        }
    }

    @Test func requestsBeyondThePerConnectionLimitAreRefused() async throws {
        let registry = try makeRegistry()
        let gate = Signal()
        try registry.register("test.wait") { _, _ in
            try await gate.wait()
            return "done"
        }
        var configuration = ControlServerConfiguration()
        configuration.maximumRequestsPerConnection = 2
        try await withServer(registry: registry, configuration: configuration) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { connection in
                let requests = (1...3).map { #"{"id":\#($0),"command":"test.wait"}"# + "\n" }.joined()
                try await connection.send(requests)
                let refused = try await connection.receive()
                #expect(refused["id"] == 3)
                #expect(refused.errorCode == "too-many-requests")
            }
        }
    }

    // MARK: - Concurrency between clients

    @Test func aStuckClientDoesNotHoldUpOthers() async throws {
        let registry = try makeRegistry()
        let gate = Signal()
        try registry.register("test.wait") { _, _ in
            try await gate.wait()
            return "done"
        }
        try await withServer(registry: registry) { _, directory in
            try await RawConnection.with(dataDirectory: directory) { stuck in
                // Half a frame, a request that waits, and a client that never reads.
                try await stuck.send(#"{"id":1,"command":"test.wait"}"# + "\n" + #"{"id":2,"comm"#)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for n in 0..<20 {
                        group.addTask {
                            let answer = try await withDeadline {
                                try await ControlClient.withConnection(dataDirectory: directory) { client in
                                    try await client.call("test.echo", .number(Double(n)))
                                }
                            }
                            #expect(answer == .number(Double(n)))
                        }
                    }
                    try await group.waitForAll()
                }
                gate.fire()
            }
        }
    }

    // MARK: - Socket lifecycle

    @Test func socketIsOwnerOnlyAndRemovedWhenTheServerStops() async throws {
        let directory = try makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = ControlSocket.path(forDataDirectory: directory)
        try await withServer(registry: makeRegistry(), dataDirectory: directory) { server, _ in
            #expect(server.socketPath == path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect(attributes[.type] as? FileAttributeType == .typeSocket)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func staleSocketFromACrashedNodeIsReplaced() async throws {
        let directory = try makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = ControlSocket.path(forDataDirectory: directory)
        try makeStaleSocket(at: path)
        #expect(FileManager.default.fileExists(atPath: path))
        let clientError = await #expect(throws: ControlError.self) {
            try await ControlClient.withConnection(dataDirectory: directory) { client in try await client.call("test.echo") }
        }
        #expect(clientError?.code == .notRunning)
        #expect(clientError?.message == "no smf node is running with data dir \(directory) (stale control.sock left by a node that stopped)")

        try await withServer(registry: makeRegistry(), dataDirectory: directory) { _, _ in
            let answer = try await ControlClient.withConnection(dataDirectory: directory) { client in try await client.call("test.echo", "fresh") }
            #expect(answer == "fresh")
        }
    }

    @Test func secondServerOnTheSameDirectoryIsRefusedAndLeavesTheFirstServing() async throws {
        try await withServer(registry: makeRegistry()) { _, directory in
            let second = ControlServer(dataDirectory: directory, registry: ControlCommandRegistry(), logger: testLogger)
            let error = await #expect(throws: ControlError.self) { try await second.bind() }
            #expect(error?.code == .alreadyRunning)
            #expect(error?.message == "another smf node is running with data dir \(directory)")
            await second.close()
            let answer = try await ControlClient.withConnection(dataDirectory: directory) { client in try await client.call("test.echo", "first") }
            #expect(answer == "first")
        }
    }

    @Test func aFileThatIsNotASocketIsNeverRemoved() async throws {
        let directory = try makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = ControlSocket.path(forDataDirectory: directory)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let server = ControlServer(dataDirectory: directory, registry: ControlCommandRegistry(), logger: testLogger)
        let error = await #expect(throws: ControlError.self) { try await server.bind() }
        #expect(error?.code == .socketFailure)
        #expect(error?.message == "\(path) exists and is not a socket; move it away so the node can open its control channel")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test func tooLongDataDirectoryIsReportedClearly() async throws {
        let directory = "/tmp/" + String(repeating: "d", count: 120)
        let server = ControlServer(dataDirectory: directory, registry: ControlCommandRegistry(), logger: testLogger)
        let error = await #expect(throws: ControlError.self) { try await server.bind() }
        #expect(error?.code == .socketFailure)
        #expect(error?.message.contains("longer than the 107 a Unix socket allows") == true)
    }

    @Test func clientWithoutANodeSaysNoneIsRunning() async throws {
        let directory = try makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = await #expect(throws: ControlError.self) {
            try await ControlClient.withConnection(dataDirectory: directory) { client in try await client.call("node.status") }
        }
        #expect(error?.code == .notRunning)
        #expect(error?.message == "no smf node is running with data dir \(directory) (no control.sock)")
    }

    @Test func stoppingTheServerEndsOpenStreamsAndCalls() async throws {
        let registry = try makeRegistry()
        let started = Signal()
        try registry.registerStream("test.idle") { _, sink in
            try await sink.yield("started")
            started.fire()
            try await Task.sleep(for: .seconds(3600))
        }
        let directory = try makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = ControlServer(dataDirectory: directory, registry: registry, logger: testLogger)
        try await server.bind()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            try await ControlClient.withConnection(dataDirectory: directory) { client in
                let events = try await client.stream("test.idle")
                var iterator = events.makeAsyncIterator()
                #expect(try await iterator.next() == "started")
                try await started.wait()
                group.cancelAll()  // the node stops
                let error = await #expect(throws: ControlError.self) { _ = try await iterator.next() }
                #expect(error?.code == .connectionClosed)
                #expect(error?.message == "the node closed the control connection (it may have stopped)")
            }
            try await group.waitForAll()
        }
        #expect(!FileManager.default.fileExists(atPath: ControlSocket.path(forDataDirectory: directory)))
    }

    @Test func registryRefusesDuplicateAndReservedNames() throws {
        let registry = ControlCommandRegistry()
        try registry.register("node.status") { _, _ in nil }
        #expect(throws: ControlError.self) { try registry.register("node.status") { _, _ in nil } }
        #expect(throws: ControlError.self) { try registry.registerStream("control.tail") { _, _ in } }
        #expect(throws: ControlError.self) { try registry.register("") { _, _ in nil } }
        #expect(registry.commandNames == ["node.status"])
    }

    /// Binds a Unix socket at `path` and closes it without removing the file, as a crashed node leaves it.
    private func makeStaleSocket(at path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ControlTestError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw ControlTestError("bind(\(path)) failed with errno \(errno)") }
    }
}
