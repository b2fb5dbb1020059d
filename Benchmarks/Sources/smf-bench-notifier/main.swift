import CBenchSupport
import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// smf-bench-notifier [--store sqlite|memory] [--data DIR]
//
// One smf notifier node in its own process, so that `smf-bench` can read this process's resident
// memory alone (`sip.subscription_bytes`) while it drives the node from a raw UDP client. The node is
// what `smf run` builds for the SIP event layer: a SIPTransport on 127.0.0.1 (UDP, RFC 3261 timers),
// a SIPUserAgentCore and a SIPEndpoint serving the `m2m-alarm` package, with its state in the SQLite
// store of a data directory (or in memory).
//
// It prints `ready PORT` on stdout, then answers one line per command read from stdin:
//   rss            -> `rss BYTES`             VmRSS of this process
//   heap           -> `heap BYTES`            bytes malloc has handed out and not got back (glibc)
//   trim           -> `ok`                    malloc_trim(0): give cached free heap back to the kernel
//   count          -> `count N`               live subscriptions the notifier holds
//   set TEXT       -> `ok` or `error ...`     setState(package: m2m-alarm, body: TEXT)
//   quit           -> `bye`                   shuts the node down and exits
// Errors go to stderr and exit non-zero.

/// Writes a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Writes a line to stdout at once (stdout is a pipe to smf-bench).
func reply(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// The process's resident set size in bytes (`VmRSS` of /proc/self/status).
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return -1
}

/// Bytes of heap in use (glibc `mallinfo2()`, arenas and mapped blocks), `-1` without glibc.
func heapBytesInUse() -> Int { Int(c_bench_heap_in_use()) }

/// Reads stdin lines on a plain thread (a blocking read must not hold a cooperative-pool thread).
func standardInputLines() -> AsyncStream<String> {
    let (stream, continuation) = AsyncStream.makeStream(of: String.self)
    let thread = Thread {
        while let line = readLine() { continuation.yield(line) }
        continuation.finish()
    }
    thread.start()
    return stream
}

var storeKind = "sqlite"
var dataDirectory: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--store":
        storeKind = arguments.popFirst() ?? ""
    case "--data":
        dataDirectory = arguments.popFirst()
    default:
        printError("smf-bench-notifier: unknown argument \(argument); usage: smf-bench-notifier [--store sqlite|memory] [--data DIR]")
        exit(2)
    }
}

// As `smf run` does at start (SIPHeapSettings): the memory figure is the node's.
SIPHeapSettings.fixMallocThresholds()

var logger = Logger(label: "smf-bench-notifier")
logger.logLevel = .critical

let store: any SIPEndpointStore
switch storeKind {
case "memory":
    store = SIPInMemoryEndpointStore()
case "sqlite":
    let directory = dataDirectory ?? NSTemporaryDirectory() + "smf-bench-notifier-\(getpid())"
    do {
        store = SQLiteEndpointStore(database: try SMFDatabase(directory: directory, logger: logger))
    } catch {
        printError("smf-bench-notifier: cannot open the database in \(directory): \(error)")
        exit(1)
    }
default:
    printError("smf-bench-notifier: --store must be sqlite or memory, not '\(storeKind)'")
    exit(2)
}

let package = SIPBasicEventPackage(
    name: "m2m-alarm", acceptedContentTypes: ["text/plain"],
    expiresPolicy: SIPExpiresPolicy(defaultSeconds: 3600, minimumSeconds: 60, maximumSeconds: 3600))

var transportConfiguration = SIPTransportConfiguration()
transportConfiguration.listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 0)]
let core = SIPUserAgentCore()
let transport = SIPTransport(configuration: transportConfiguration, handler: core, logger: logger)
let endpoint: SIPEndpoint
do {
    let bound = try await transport.bind()
    guard let port = bound.first(where: { $0.transport == .udp })?.port else {
        printError("smf-bench-notifier: no UDP listener was bound")
        exit(1)
    }
    guard let localURI = SIPURI("sip:alarm@127.0.0.1:\(port)") else {
        printError("smf-bench-notifier: cannot form the node's URI for port \(port)")
        exit(1)
    }
    endpoint = SIPEndpoint(
        configuration: SIPEndpointConfiguration(localURI: localURI), transport: transport, userAgent: core, store: store,
        packages: [package], logger: logger)
    try await endpoint.start()
    try await endpoint.setState(package: "m2m-alarm", body: SIPEventBody(contentType: "text/plain", text: "quiet"))
    reply("ready \(port)")
} catch {
    printError("smf-bench-notifier: cannot start the node: \(error)")
    exit(1)
}

for await line in standardInputLines() {
    let command = line.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
    switch command {
    case "rss":
        reply("rss \(residentBytes())")
    case "heap":
        reply("heap \(heapBytesInUse())")
    case "trim":
        c_bench_trim_heap()
        reply("ok")
    case "count":
        reply("count \(await endpoint.subscriptions().count)")
    case "set":
        let text = line.dropFirst(4)
        do {
            try await endpoint.setState(package: "m2m-alarm", body: SIPEventBody(contentType: "text/plain", text: String(text)))
            reply("ok")
        } catch {
            reply("error \(error)")
        }
    case "quit":
        await endpoint.shutdown()
        await transport.close()
        reply("bye")
        exit(0)
    default:
        reply("error unknown command '\(command)'")
    }
}
// stdin closed: the bench went away.
await endpoint.shutdown()
await transport.close()
