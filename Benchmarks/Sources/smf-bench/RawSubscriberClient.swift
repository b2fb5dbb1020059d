import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A lightweight stand-in for many subscribers: one UDP socket on 127.0.0.1 that sends hand-built
/// SUBSCRIBEs (RFC 6665 §4.1.2) and answers every NOTIFY with a 200 (§4.1.3), keeping only what a
/// benchmark needs per dialog (Call-ID, tags, the latest NOTIFY body and state).
///
/// It is deliberately not an smf endpoint: 10,000 subscriptions must cost the bench process little,
/// and the notifier must see ordinary SIP from ordinary subscribers. A receiving thread answers
/// NOTIFYs as they come; the calling thread sends and waits. SUBSCRIBEs that got no NOTIFY within
/// ``resendAfter`` are sent again (same branch: a retransmission, RFC 3261 §17.1.2.1).
final class RawSubscriberClient: @unchecked Sendable {
    /// One subscription as the client knows it.
    struct Dialog {
        var callID: String
        var fromTag: String
        var user: String
        var toTag: String?
        var cseq = 1
        var sentAt: Double = 0
        var lastRequest: [UInt8] = []
        /// NOTIFYs received (retransmissions counted once: by CSeq).
        var lastNotifyCSeq = 0
        var lastBody = ""
        var terminated = false
        var subscribeStatus = 0
    }

    /// Why the client could not go on.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let port: Int
    let notifierPort: Int
    /// How long a SUBSCRIBE may go without its NOTIFY before it is sent again.
    var resendAfter = 2.0

    private let socket: Int32
    private let run: String
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var dialogs: [Dialog] = []
    private var indexByCallID: [String: Int] = [:]
    private var notifiedCount = 0
    private var terminatedCount = 0
    private var watchedBody: String?
    private var watchedCount = 0
    private var watchedCompletedAt: Double?
    private var unexpected: [String] = []
    private var receiving = true
    /// Dialogs whose SUBSCRIBE was sent and whose first NOTIFY has not come yet.
    private var awaitingFirstNotify = Set<Int>()
    /// Dialogs whose unsubscribing SUBSCRIBE was sent and whose `terminated` NOTIFY has not come yet.
    private var awaitingTermination = Set<Int>()
    /// Called (on the receiving thread) with the number of first NOTIFYs so far, every ``progressStep``.
    private var progress: (@Sendable (Int) -> Void)?
    private let progressStep = 1_000

    /// Opens the socket and starts the receiving thread.
    init(notifierPort: Int) throws {
        self.notifierPort = notifierPort
        self.run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        #if canImport(Glibc)
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        // A state change to 10,000 subscribers arrives as a burst: give the kernel room to queue it.
        var size: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw Failure(description: "bind(127.0.0.1:0) failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.socket = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in receiveLoop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Stops receiving and closes the socket.
    func stop() {
        condition.withLock { receiving = false }
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    /// Reports every 1,000th first NOTIFY to `report` (on the receiving thread); `nil` stops it.
    func onProgress(_ report: (@Sendable (Int) -> Void)?) {
        condition.withLock { progress = report }
    }

    var dialogCount: Int { condition.withLock { dialogs.count } }
    var notified: Int { condition.withLock { notifiedCount } }

    // MARK: - Driving

    /// Creates `count` subscriptions with at most `window` awaiting their first NOTIFY at a time, and
    /// returns when every one got it. The indices of the new dialogs are returned.
    func subscribe(count: Int, window: Int, expires: Int = 3600, timeout: Double = 120) throws -> Range<Int> {
        let range: Range<Int> = condition.withLock {
            let start = dialogs.count
            for index in start..<(start + count) {
                let callID = "bench-\(run)-\(index)@127.0.0.1"
                dialogs.append(Dialog(callID: callID, fromTag: "w\(run)\(index)", user: "watcher\(index)"))
                indexByCallID[callID] = index
            }
            return start..<(start + count)
        }
        let deadline = now() + timeout
        for index in range {
            condition.lock()
            while awaitingFirstNotify.count >= window {
                resendStale(awaitingFirstNotify)
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.25))
                if now() > deadline {
                    let waiting = awaitingFirstNotify.count
                    condition.unlock()
                    throw Failure(description: "subscribing timed out at dialog \(index - range.lowerBound) with \(waiting) unanswered")
                }
            }
            let message = subscribeRequest(index: index, expires: expires)
            dialogs[index].lastRequest = message
            dialogs[index].sentAt = now()
            awaitingFirstNotify.insert(index)
            condition.unlock()
            send(message)
        }
        try waitUntil(deadline: deadline, what: "first NOTIFYs") {
            resendStale(awaitingFirstNotify)
            return awaitingFirstNotify.isEmpty
        }
        try checkNoUnexpected()
        return range
    }

    /// Ends the subscriptions in `range` (`Expires: 0` in their dialogs, RFC 6665 §4.1.2.3) with at most
    /// `window` waiting for their `terminated` NOTIFY at a time.
    func unsubscribe(_ range: Range<Int>, window: Int, timeout: Double = 120) throws {
        let deadline = now() + timeout
        for index in range {
            condition.lock()
            while awaitingTermination.count >= window {
                resendStale(awaitingTermination)
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.25))
                if now() > deadline {
                    condition.unlock()
                    throw Failure(description: "unsubscribing timed out")
                }
            }
            dialogs[index].cseq += 1
            let message = subscribeRequest(index: index, expires: 0)
            dialogs[index].lastRequest = message
            dialogs[index].sentAt = now()
            awaitingTermination.insert(index)
            condition.unlock()
            send(message)
        }
        try waitUntil(deadline: deadline, what: "terminated NOTIFYs") {
            resendStale(awaitingTermination)
            return awaitingTermination.isEmpty
        }
        try checkNoUnexpected()
    }

    /// From now on, counts the dialogs whose NOTIFY carries `body`; see ``waitForWatchedBody(count:timeout:)``.
    func watch(body: String) {
        condition.withLock {
            watchedBody = body
            watchedCount = 0
            watchedCompletedAt = nil
        }
    }

    /// Waits until `count` dialogs got a NOTIFY with the watched body (each answered 200) and returns
    /// the instant (``now()``) the last of them was answered.
    func waitForWatchedBody(count: Int, timeout: Double = 120) throws -> Double {
        let deadline = now() + timeout
        var completedAt: Double?
        try waitUntil(deadline: deadline, what: "NOTIFYs with the new state") {
            if watchedCount >= count { completedAt = watchedCompletedAt }
            return watchedCount >= count
        }
        try checkNoUnexpected()
        return completedAt ?? now()
    }

    /// Monotonic seconds.
    func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    // MARK: - Waiting (call with `condition` locked)

    /// Sends again the requests of `waiting` still unanswered after ``resendAfter``.
    private func resendStale(_ waiting: Set<Int>) {
        let limit = now() - resendAfter
        for index in waiting where dialogs[index].sentAt < limit {
            dialogs[index].sentAt = now()
            send(dialogs[index].lastRequest)
        }
    }

    private func waitUntil(deadline: Double, what: String, _ done: () -> Bool) throws {
        condition.lock()
        defer { condition.unlock() }
        while !done() {
            if now() > deadline { throw Failure(description: "timed out waiting for \(what)") }
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.25))
        }
    }

    private func checkNoUnexpected() throws {
        let problems = condition.withLock { unexpected }
        if let first = problems.first {
            throw Failure(description: "\(problems.count) unexpected messages; first: \(first)")
        }
    }

    // MARK: - Messages

    private func subscribeRequest(index: Int, expires: Int) -> [UInt8] {
        let dialog = dialogs[index]
        let toTag = dialog.toTag.map { ";tag=\($0)" } ?? ""
        let text =
            "SUBSCRIBE sip:alarm@127.0.0.1:\(notifierPort) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK\(dialog.fromTag)c\(dialog.cseq);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <sip:\(dialog.user)@127.0.0.1:\(port)>;tag=\(dialog.fromTag)\r\n"
            + "To: <sip:alarm@127.0.0.1:\(notifierPort)>\(toTag)\r\n"
            + "Call-ID: \(dialog.callID)\r\n"
            + "CSeq: \(dialog.cseq) SUBSCRIBE\r\n"
            + "Contact: <sip:\(dialog.user)@127.0.0.1:\(port)>\r\n"
            + "Event: m2m-alarm\r\n"
            + "Accept: text/plain\r\n"
            + "Expires: \(expires)\r\n"
            + "Content-Length: 0\r\n\r\n"
        return Array(text.utf8)
    }

    private func send(_ bytes: [UInt8], to port: Int? = nil) {
        var address = Self.loopback(port: port ?? notifierPort)
        _ = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    // MARK: - Receiving

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var source = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, bytes.baseAddress, bytes.count, 0, $0, &length) }
                }
            }
            guard count > 0 else {
                if count < 0 && errno == EINTR { continue }
                return
            }
            let message = RawSIPMessage(String(decoding: buffer[0..<count], as: UTF8.self))
            handle(message, fromPort: Int(UInt16(bigEndian: source.sin_port)))
        }
    }

    private func handle(_ message: RawSIPMessage, fromPort: Int) {
        if message.startLine.hasPrefix("SIP/2.0 ") {
            handleResponse(message)
        } else if message.startLine.hasPrefix("NOTIFY ") {
            // Answer first (a notifier waits for it), then record.
            send(message.okResponse(), to: fromPort)
            handleNotify(message)
        } else {
            condition.withLock { unexpected.append(message.startLine) }
        }
    }

    private func handleResponse(_ message: RawSIPMessage) {
        let status = Int(message.startLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        guard status >= 200 else { return }
        condition.withLock {
            guard let callID = message.header("Call-ID", compact: "i"), let index = indexByCallID[callID] else {
                unexpected.append("response without a known Call-ID: \(message.startLine)")
                return
            }
            dialogs[index].subscribeStatus = status
            if status >= 300 {
                unexpected.append("\(message.startLine) for \(callID)")
            } else if dialogs[index].toTag == nil, let to = message.header("To", compact: "t"), let tag = RawSIPMessage.tag(in: to) {
                dialogs[index].toTag = tag
            }
            condition.broadcast()
        }
    }

    private func handleNotify(_ message: RawSIPMessage) {
        guard let callID = message.header("Call-ID", compact: "i"), let cseqValue = message.header("CSeq", compact: nil),
            let cseq = Int(cseqValue.split(separator: " ").first ?? "")
        else {
            condition.withLock { unexpected.append("NOTIFY without Call-ID or CSeq") }
            return
        }
        let state = message.header("Subscription-State", compact: nil) ?? ""
        let completedAt = now()
        condition.withLock {
            guard let index = indexByCallID[callID] else {
                unexpected.append("NOTIFY for unknown Call-ID \(callID)")
                return
            }
            guard cseq > dialogs[index].lastNotifyCSeq else { return }  // a retransmission
            if dialogs[index].toTag == nil, let from = message.header("From", compact: "f") {
                dialogs[index].toTag = RawSIPMessage.tag(in: from)
            }
            if dialogs[index].lastNotifyCSeq == 0 {
                notifiedCount += 1
                awaitingFirstNotify.remove(index)
                if notifiedCount % progressStep == 0 { progress?(notifiedCount) }
            }
            dialogs[index].lastNotifyCSeq = cseq
            dialogs[index].lastBody = message.body
            if state.hasPrefix("terminated") && !dialogs[index].terminated {
                dialogs[index].terminated = true
                terminatedCount += 1
                awaitingTermination.remove(index)
            }
            if let watchedBody, message.body == watchedBody {
                watchedCount += 1
                watchedCompletedAt = completedAt
            }
            condition.broadcast()
        }
    }
}

/// Just enough of a SIP message for ``RawSubscriberClient``: start line, headers by name, body.
struct RawSIPMessage {
    let startLine: String
    let headers: [(name: Substring, value: Substring)]
    let body: String

    init(_ text: String) {
        let parts = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        let lines = (parts.first ?? "").split(separator: "\r\n")
        startLine = lines.first.map(String.init) ?? ""
        headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            return (Substring(name), value)
        }
        body = parts.count > 1 ? String(parts[1]) : ""
    }

    /// The first value of header `name` (or its compact form), case-insensitively.
    func header(_ name: String, compact: String?) -> String? {
        headers.first { header in
            header.name.caseInsensitiveCompare(name) == .orderedSame || (compact.map { header.name == $0 } ?? false)
        }.map { String($0.value) }
    }

    /// `200 OK` to this request: its Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
    func okResponse() -> [UInt8] {
        var text = "SIP/2.0 200 OK\r\n"
        let copied = ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"]
        for (name, value) in headers where copied.contains(name.lowercased()) {
            text += "\(name): \(value)\r\n"
        }
        text += "Content-Length: 0\r\n\r\n"
        return Array(text.utf8)
    }

    /// The `tag` parameter of a From or To value.
    static func tag(in value: String) -> String? {
        guard let range = value.range(of: ";tag=") else { return nil }
        return String(value[range.upperBound...].prefix { $0 != ";" && $0 != " " && $0 != ">" })
    }
}
