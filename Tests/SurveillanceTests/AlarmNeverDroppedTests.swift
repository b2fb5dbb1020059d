import Testing

@testable import Surveillance

/// SplitMix64: deterministic randomness for the property tests.
struct SeededRandom {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Drives an alarm through random delivery failures, silences, declines, late answers and restarts of the
/// node, checking after every event that the alarm is either finished or has something still due (a send
/// awaiting its result, or a timer that will act), and that the stored steps rebuild the same machine.
@Test(arguments: 0..<40)
func alarmIsNeverDroppedWhateverFailsAndSurvivesRestarts(seed: Int) throws {
    var random = SeededRandom(state: UInt64(seed) &* 7919 &+ 1)
    let policy = AlarmDeliveryPolicy(
        acceptTimeout: .seconds(30), retryInterval: .seconds(2), maxRetryInterval: .seconds(8), maxAttemptsPerSupporter: 3,
        restartDelay: .seconds(20))
    var delivery = try AlarmDelivery(alarm: fireAlarm, recipients: [bob, carol, dave], policy: policy)
    var stored: [AlarmStep] = []
    var now = Duration.seconds(100)
    var inFlight: [Int] = []
    var timers: [AlarmTimer] = []

    func carryOut(_ actions: [AlarmDeliveryAction]) {
        for action in actions {
            switch action {
            case .record(let step): stored.append(step)
            case .send(let dispatch): inFlight.append(dispatch.attempt)
            case .scheduleTimer(let timer): timers.append(timer)
            case .requestSelection:
                break
            case .alertOwners, .finished: break
            }
        }
    }

    carryOut(delivery.start(at: now))
    for _ in 0..<300 where delivery.isOpen {
        now += .milliseconds(random.below(3000))
        switch random.below(10) {
        case 0...3 where !inFlight.isEmpty:
            let attempt = inFlight.remove(at: random.below(inFlight.count))
            carryOut(delivery.deliveryResult(attempt: attempt, random.below(3) == 0 ? .delivered : .failed("408"), at: now))
        case 4 where !delivery.contacted.isEmpty:
            let who = delivery.contacted[random.below(delivery.contacted.count)]
            carryOut(try delivery.answered(by: who, random.below(25) == 0 ? .accept : .decline, at: now))
        case 5:
            // The node restarts: pending sends and timers are lost; the machine comes back from the store.
            delivery = try AlarmDelivery(restoring: fireAlarm, steps: stored, policy: policy)
            inFlight = []
            timers = []
            carryOut(delivery.resume(at: now))
        default:
            guard let earliest = timers.min(by: { $0.deadline < $1.deadline }) else { break }
            timers.removeAll { $0 == earliest }
            now = max(now, earliest.deadline)
            carryOut(delivery.timerFired(earliest, at: now))
        }
        #expect(stored == delivery.steps, "every step was handed to the store")
        #expect(try AlarmDelivery(restoring: fireAlarm, steps: stored, policy: policy) == delivery)
        if delivery.isOpen {
            let timerWillAct = timers.contains { timer in
                var probe = delivery
                return !probe.timerFired(timer, at: max(now, timer.deadline)).isEmpty
            }
            #expect(timerWillAct || !inFlight.isEmpty, "an open alarm always has something due (seed \(seed))")
        }
    }
}
