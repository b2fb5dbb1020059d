import Testing

@testable import SIPEndpoint

@Suite struct SIPEndpointTimerQueueTests {
    private func drain(_ queue: inout SIPEndpointTimerQueue<Int>, until limit: Duration) -> [Int] {
        var fired: [Int] = []
        while let id = queue.popDue(notAfter: limit) { fired.append(id) }
        return fired
    }

    @Test func timersFireInDeadlineOrderAndOnlyWhenDue() {
        var queue = SIPEndpointTimerQueue<Int>()
        for (id, seconds) in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 40)] { queue.schedule(id, at: .seconds(seconds)) }
        #expect(queue.earliestDeadline() == .seconds(10))
        #expect(drain(&queue, until: .seconds(9)).isEmpty)
        // Equal deadlines fire in the order they were armed.
        #expect(drain(&queue, until: .seconds(20)) == [2, 4, 3])
        #expect(queue.count == 2)
        #expect(drain(&queue, until: .seconds(100)) == [1, 5])
        #expect(queue.earliestDeadline() == nil)
    }

    @Test func cancelledAndRescheduledTimersFireOnlyAtTheirLatestDeadline() {
        var queue = SIPEndpointTimerQueue<Int>()
        queue.schedule(1, at: .seconds(5))
        queue.schedule(2, at: .seconds(6))
        queue.schedule(1, at: .seconds(50))  // rescheduled later
        queue.cancel(2)
        #expect(queue.count == 1)
        #expect(queue.earliestDeadline() == .seconds(50))
        #expect(drain(&queue, until: .seconds(49)).isEmpty)
        #expect(drain(&queue, until: .seconds(50)) == [1])
        #expect(!queue.contains(1))
    }

    @Test func manyReschedulesKeepOrderAndDoNotLeakEntries() {
        var queue = SIPEndpointTimerQueue<Int>()
        // Every timer is rearmed many times (as refreshes do); stale entries must not fire.
        for round in 0..<20 {
            for id in 0..<100 { queue.schedule(id, at: .seconds(1000 + round * 100 + (99 - id))) }
        }
        #expect(queue.count == 100)
        let fired = drain(&queue, until: .seconds(1_000_000))
        #expect(fired == Array((0..<100).reversed()))
        #expect(queue.count == 0)
    }
}
