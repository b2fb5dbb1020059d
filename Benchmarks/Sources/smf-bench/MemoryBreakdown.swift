import CBenchSupport
import NIOCore
import SIPEvents
import SIPSyntax

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Where a notifier's memory per subscription goes, printed on stderr with `sip.subscription_bytes`:
// the parts that can be measured alone in this process, by heap bytes in use before and after.

/// Heap bytes in use in this process (glibc `mallinfo2()`, arenas and mapped blocks), `nil` without glibc.
func heapBytesInUse() -> Int? {
    let bytes = c_bench_heap_in_use()
    return bytes >= 0 ? Int(bytes) : nil
}

/// Heap bytes per subscription held by the pure `SIPNotifier` machine (subscription, dialog and their
/// strings, with the current state), after `count` SUBSCRIBEs like the raw client's and the 200s to
/// their first NOTIFYs.
func notifierMachineBytesPerSubscription(count: Int) throws -> Double? {
    guard let before = heapBytesInUse() else { return nil }
    guard let contact = SIPURI("sip:alarm@127.0.0.1:5060") else { return nil }
    let package = SIPBasicEventPackage(
        name: "m2m-alarm", acceptedContentTypes: ["text/plain"],
        expiresPolicy: SIPExpiresPolicy(defaultSeconds: 3600, minimumSeconds: 60, maximumSeconds: 3600))
    var notifier = SIPNotifier(packages: [package], localContact: contact)
    var generator = SystemRandomNumberGenerator()
    let parser = SIPParser()
    let now: SIPEventInstant = .seconds(1_000_000)
    _ = notifier.resourceStateChanged(
        event: "m2m-alarm", resource: "sip:alarm@127.0.0.1", state: SIPEventBody(contentType: "text/plain", text: "quiet"), now: now)
    for index in 0..<count {
        let text =
            "SUBSCRIBE sip:alarm@127.0.0.1:5060 SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKbreakdown\(index);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <sip:watcher\(index)@127.0.0.1:40000>;tag=wbreakdown\(index)\r\n"
            + "To: <sip:alarm@127.0.0.1:5060>\r\n"
            + "Call-ID: bench-breakdown-\(index)@127.0.0.1\r\n"
            + "CSeq: 1 SUBSCRIBE\r\n"
            + "Contact: <sip:watcher\(index)@127.0.0.1:40000>\r\n"
            + "Event: m2m-alarm\r\nAccept: text/plain\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
        guard case .request(let request) = try parser.parse(datagram: ByteBuffer(string: text)) else {
            throw BenchmarkCheckFailed(description: "breakdown SUBSCRIBE did not parse as a request")
        }
        for case .sendNotify(let notify, _) in notifier.subscribeReceived(request, now: now, using: &generator) {
            _ = notifier.notifyResponseReceived(SIPEventMessages.response(200, to: notify), now: now)
        }
    }
    guard notifier.count == count else { throw BenchmarkCheckFailed(description: "breakdown notifier holds \(notifier.count)") }
    guard let after = heapBytesInUse() else { return nil }
    blackHole(notifier)
    return Double(after - before) / Double(count)
}
