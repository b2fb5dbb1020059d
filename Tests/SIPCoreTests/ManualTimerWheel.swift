import SIPCore
import SIPSyntax

/// Virtual time for transcripts: holds scheduled timers by id, and advancing time pops the due
/// ones in deadline order (ties in scheduling order). Nothing reads a real clock.
struct ManualTimerWheel<ID: Hashable> {
    private struct Entry {
        var id: ID
        var deadline: Duration
        var sequence: Int
    }

    private(set) var now: Duration = .zero
    private var entries: [Entry] = []
    private var sequence = 0

    /// Starts (or restarts) timer `id` to fire `delay` from now.
    mutating func schedule(_ id: ID, after delay: Duration) {
        cancel(id)
        sequence += 1
        entries.append(Entry(id: id, deadline: now + delay, sequence: sequence))
    }

    mutating func cancel(_ id: ID) {
        entries.removeAll { $0.id == id }
    }

    mutating func cancelAll(where predicate: (ID) -> Bool) {
        entries.removeAll { predicate($0.id) }
    }

    func deadline(of id: ID) -> Duration? {
        entries.first { $0.id == id }?.deadline
    }

    var scheduled: [ID] { entries.map(\.id) }

    /// Removes the earliest timer due at or before `limit`, moving `now` to its deadline.
    mutating func popNextDue(notAfter limit: Duration) -> ID? {
        guard let index = entries.indices.min(by: { (entries[$0].deadline, entries[$0].sequence) < (entries[$1].deadline, entries[$1].sequence) }),
            entries[index].deadline <= limit
        else { return nil }
        let entry = entries.remove(at: index)
        now = max(now, entry.deadline)
        return entry.id
    }

    /// Moves time forward to `instant` after every due timer has been popped.
    mutating func settle(at instant: Duration) {
        now = max(now, instant)
    }
}

/// What every transaction machine has in common, so one harness drives all four.
protocol TimedTransaction {
    mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction]
}

extension SIPNonInviteClientTransaction: TimedTransaction {}
extension SIPInviteClientTransaction: TimedTransaction {}
extension SIPNonInviteServerTransaction: TimedTransaction {}
extension SIPInviteServerTransaction: TimedTransaction {}

/// Drives one transaction machine through virtual time and records what it did, when.
struct TransactionHarness<Machine: TimedTransaction> {
    struct Entry: Equatable, CustomStringConvertible {
        var at: Duration
        var action: SIPTransactionAction
        var description: String { "\(at): \(action)" }
    }

    var machine: Machine
    var wheel = ManualTimerWheel<SIPTimer>()
    private(set) var transcript: [Entry] = []

    init(_ machine: Machine) { self.machine = machine }

    var now: Duration { wheel.now }

    /// Feeds an event to the machine now and carries out its actions.
    @discardableResult
    mutating func on(_ event: (inout Machine) -> [SIPTransactionAction]) -> [SIPTransactionAction] {
        let actions = event(&machine)
        carryOut(actions)
        return actions
    }

    /// Advances virtual time by `delta`, firing due timers in order.
    mutating func advance(by delta: Duration) {
        advance(to: wheel.now + delta)
    }

    mutating func advance(to instant: Duration) {
        while let timer = wheel.popNextDue(notAfter: instant) {
            carryOut(machine.timerFired(timer))
        }
        wheel.settle(at: instant)
    }

    private mutating func carryOut(_ actions: [SIPTransactionAction]) {
        for action in actions {
            transcript.append(Entry(at: wheel.now, action: action))
            switch action {
            case .scheduleTimer(let timer, let delay): wheel.schedule(timer, after: delay)
            case .cancelTimer(let timer): wheel.cancel(timer)
            case .terminate: wheel.cancelAll { _ in true }
            default: break
            }
        }
    }

    /// Times at which the machine (re)sent its request.
    var requestSendTimes: [Duration] {
        transcript.compactMap { if case .sendRequest = $0.action { $0.at } else { nil } }
    }

    /// Times at which the machine (re)sent a response, with its status code.
    var responseSends: [(at: Duration, status: Int)] {
        transcript.compactMap { if case .sendResponse(let r) = $0.action { ($0.at, r.statusCode) } else { nil } }
    }

    var acksSent: [SIPRequest] {
        transcript.compactMap { if case .sendAck(let ack) = $0.action { ack } else { nil } }
    }

    var responsesDelivered: [Int] {
        transcript.compactMap { if case .deliverResponseToTU(let r) = $0.action { r.statusCode } else { nil } }
    }

    func times(of action: SIPTransactionAction) -> [Duration] {
        transcript.filter { $0.action == action }.map(\.at)
    }
}

/// Durations written as seconds with a fractional part, for readable expectations.
func seconds(_ values: Double...) -> [Duration] {
    values.map { .milliseconds(Int(($0 * 1000).rounded())) }
}

/// A deterministic generator for branch tests (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
