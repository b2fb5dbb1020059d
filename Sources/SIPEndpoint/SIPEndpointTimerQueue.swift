/// The deadlines of every endpoint timer in one binary min-heap, so that thousands of
/// subscriptions need one sleeping task between them instead of one each.
///
/// Cancelling or rescheduling a timer leaves its old heap entry behind (lazy deletion): an entry
/// counts only while its generation is the timer's current one. The heap is rebuilt from the live
/// timers when stale entries outnumber them, so it stays O(live timers).
struct SIPEndpointTimerQueue<ID: Hashable> {
    private struct Entry {
        var deadline: Duration
        var generation: UInt64
        var id: ID

        /// Earlier deadline first; equal deadlines in the order they were armed.
        func precedes(_ other: Entry) -> Bool { (deadline, generation) < (other.deadline, other.generation) }
    }

    private var heap: [Entry] = []
    private var live: [ID: (generation: UInt64, deadline: Duration)] = [:]
    private var nextGeneration: UInt64 = 0

    /// How many timers are armed.
    var count: Int { live.count }

    /// The armed timers.
    var ids: Dictionary<ID, (generation: UInt64, deadline: Duration)>.Keys { live.keys }

    /// Whether `id` is armed.
    func contains(_ id: ID) -> Bool { live[id] != nil }

    /// The deadline of `id`, if armed.
    func deadline(of id: ID) -> Duration? { live[id]?.deadline }

    /// Arms `id` for `deadline`, replacing an earlier arming.
    mutating func schedule(_ id: ID, at deadline: Duration) {
        nextGeneration &+= 1
        live[id] = (nextGeneration, deadline)
        push(Entry(deadline: deadline, generation: nextGeneration, id: id))
        if heap.count > 2 * live.count + 64 { compact() }
    }

    /// Disarms `id`; no-op when it is not armed.
    mutating func cancel(_ id: ID) {
        live[id] = nil
    }

    /// Disarms everything.
    mutating func removeAll() {
        heap.removeAll()
        live.removeAll()
    }

    /// The earliest deadline of an armed timer.
    mutating func earliestDeadline() -> Duration? {
        dropStaleTop()
        return heap.first?.deadline
    }

    /// Disarms and returns the armed timer with the earliest deadline if that deadline is at or
    /// before `limit`.
    mutating func popDue(notAfter limit: Duration) -> ID? {
        dropStaleTop()
        guard let top = heap.first, top.deadline <= limit else { return nil }
        popTop()
        live[top.id] = nil
        return top.id
    }

    // MARK: - Heap

    private func isLive(_ entry: Entry) -> Bool { live[entry.id]?.generation == entry.generation }

    private mutating func dropStaleTop() {
        while let top = heap.first, !isLive(top) { popTop() }
    }

    private mutating func compact() {
        heap = heap.filter(isLive)
        guard heap.count > 1 else { return }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        guard !heap.isEmpty else { return }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
