/// A 4-ary min-heap of timed events; ties break by insertion order, so runs replay exactly.
///
/// The heap holds only 16-byte (time, order·slot) pairs; payloads wait in a slab, so sifting
/// moves small plain values instead of retaining and releasing messages. Four children per node
/// halve the depth of a binary heap, and the four sit in one or two cache lines: popping from a
/// heap of 10⁵ pending events (10,000 nodes) was a fifth of the simulator's time with two.
struct EventQueue<Payload> {
    private struct Entry {
        var time: Int64
        /// Insertion order in the high 40 bits, slab slot in the low 24: comparing `key`
        /// compares the order (unique), so ties in time pop first-in first-out.
        var key: UInt64

        var slot: Int { Int(key & Self.slotMask) }
        static var slotBits: UInt64 { 24 }
        static var slotMask: UInt64 { (1 << 24) - 1 }

        @inline(__always)
        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.time != rhs.time ? lhs.time < rhs.time : lhs.key < rhs.key
        }
    }

    private var heap: [Entry] = []
    /// Events pushed with `inOrder` at or after the last such event: a sorted lane that needs no
    /// sifting. Request timeouts all have the same delay, so they arrive in time order; they are
    /// most of the pending events (they wait 1 s, messages 10–90 ms), and keeping them out of the
    /// heap keeps the heap small.
    private var lane: [Entry] = []
    private var laneHead = 0
    private var slab: [Payload?] = []
    private var freeSlots: [Int32] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count + lane.count - laneHead }
    var isEmpty: Bool { count == 0 }
    var nextTime: Int64? {
        guard laneHead < lane.count else { return heap.first?.time }
        guard let top = heap.first else { return lane[laneHead].time }
        return min(top.time, lane[laneHead].time)
    }

    init() {
        heap.reserveCapacity(1 << 16)
        slab.reserveCapacity(1 << 16)
    }

    /// Adds an event; `inOrder` hints that `time` is at or after every earlier `inOrder` event's.
    mutating func push(_ payload: Payload, at time: Int64, inOrder: Bool = false) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
            slab[slot] = payload
        } else {
            slot = slab.count
            // More than 2^24 events pending at once would overflow the slot field; a simulation
            // never comes near (10,000 nodes keep about 10^5 pending).
            guard UInt64(slot) <= Entry.slotMask else { return }
            slab.append(payload)
        }
        let entry = Entry(time: time, key: nextOrder << Entry.slotBits | UInt64(slot))
        nextOrder &+= 1
        if inOrder, lane.last.map({ $0.time <= time }) ?? true {
            if laneHead > 4096, laneHead * 2 > lane.count {
                lane.removeFirst(laneHead)
                laneHead = 0
            }
            lane.append(entry)
            return
        }
        heap.append(entry)
        heap.withUnsafeMutableBufferPointer { heap in
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) >> 2
                guard entry < heap[parent] else { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = entry
        }
    }

    mutating func pop() -> (time: Int64, payload: Payload)? {
        if laneHead < lane.count, heap.first.map({ lane[laneHead] < $0 }) ?? true {
            let entry = lane[laneHead]
            laneHead += 1
            return take(entry)
        }
        guard let top = heap.first, let last = heap.popLast() else { return nil }
        heap.withUnsafeMutableBufferPointer { heap in
            let count = heap.count
            guard count > 0 else { return }
            var parent = 0
            while true {
                let first = 4 * parent + 1
                guard first < count else { break }
                var smallest = first
                let end = min(first + 4, count)
                var child = first + 1
                while child < end {
                    if heap[child] < heap[smallest] { smallest = child }
                    child += 1
                }
                guard heap[smallest] < last else { break }
                heap[parent] = heap[smallest]
                parent = smallest
            }
            heap[parent] = last
        }
        return take(top)
    }

    private mutating func take(_ entry: Entry) -> (time: Int64, payload: Payload)? {
        let slot = entry.slot
        guard let payload = slab[slot].take() else { return nil }
        freeSlots.append(Int32(slot))
        return (entry.time, payload)
    }
}
