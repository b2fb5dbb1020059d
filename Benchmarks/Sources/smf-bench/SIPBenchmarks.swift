import NIOCore
import SIPSyntax

extension Benchmark {
    /// Every figure, in output order. Append new figures here.
    static let all: [Benchmark] = [
        Benchmark(name: "sip.parse", unit: "msgs/s", measure: measureSIPParse),
        Benchmark(name: "sip.serialize", unit: "msgs/s", measure: measureSIPSerialize),
    ] + Benchmark.events + [Benchmark.energy] + Benchmark.overlay + [Benchmark.store] + [Benchmark.deploy] + [Benchmark.alarms]
}

/// Parses each message of the mix once and checks the result, so the timed loop times correct work.
private func parseAndCheckMix() throws -> [SIPMessage] {
    let parser = SIPParser()
    let sizes = SIPMessageMix.messages.map { "\($0.label) \($0.bytes.count) B" }
    printError("smf-bench: message mix: \(sizes.joined(separator: ", "))")
    return try SIPMessageMix.messages.map { expected in
        let message = try parser.parse(datagram: ByteBuffer(bytes: expected.bytes))
        try check(message, against: expected)
        // Serialising must give a message that parses to the same value.
        var buffer = ByteBuffer()
        message.write(into: &buffer)
        let reparsed = try parser.parse(datagram: buffer)
        guard reparsed == message else {
            throw BenchmarkCheckFailed(description: "\(expected.label): serialised message parses differently")
        }
        return message
    }
}

private func check(_ message: SIPMessage, against expected: SIPMessageMix.Expectation) throws {
    let body: ByteBuffer
    switch message {
    case .request(let request):
        guard request.method.rawValue == expected.method else {
            throw BenchmarkCheckFailed(description: "\(expected.label): parsed method \(request.method)")
        }
        body = request.body
    case .response(let response):
        guard response.statusCode == expected.statusCode else {
            throw BenchmarkCheckFailed(description: "\(expected.label): parsed status \(response.statusCode)")
        }
        body = response.body
    }
    guard message.headers["Call-ID"] == expected.callID else {
        throw BenchmarkCheckFailed(description: "\(expected.label): Call-ID \(message.headers["Call-ID"] ?? "missing")")
    }
    guard body.readableBytes == expected.bodyLength else {
        throw BenchmarkCheckFailed(description: "\(expected.label): body of \(body.readableBytes) bytes")
    }
}

/// `sip.parse`: datagrams of the mix parsed with `SIPParser.parse(datagram:)`, one thread.
@Sendable private func measureSIPParse(_ duration: Duration) throws -> Double {
    _ = try parseAndCheckMix()
    let parser = SIPParser()
    let datagrams = SIPMessageMix.messages.map { ByteBuffer(bytes: $0.bytes) }
    return try operationsPerSecond(for: duration) { index in
        blackHole(try parser.parse(datagram: datagrams[index % datagrams.count]))
    }
}

/// `sip.serialize`: the parsed mix written with `SIPMessage.write(into:)` into a reused buffer.
@Sendable private func measureSIPSerialize(_ duration: Duration) throws -> Double {
    let messages = try parseAndCheckMix()
    var buffer = ByteBufferAllocator().buffer(capacity: 2048)
    return operationsPerSecond(for: duration) { index in
        buffer.clear()
        messages[index % messages.count].write(into: &buffer)
        blackHole(buffer.readableBytes)
    }
}
