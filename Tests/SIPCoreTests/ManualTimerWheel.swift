import SIPCore
import SMFTestSupport
import SIPSyntax

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
