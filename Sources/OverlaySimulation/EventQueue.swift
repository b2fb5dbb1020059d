/// A binary min-heap of timed events; ties break by insertion order, so runs replay exactly.
///
/// The heap holds only plain (time, order, slot) triples; payloads wait in a slab, so sifting
/// moves 24-byte values instead of retaining and releasing messages.
struct EventQueue<Payload> {
    private struct Entry {
        var time: Int64
        var order: UInt64
        var slot: Int32
    }

    private var heap: [Entry] = []
    private var slab: [Payload?] = []
    private var freeSlots: [Int32] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Int64? { heap.first?.time }

    init() {
        heap.reserveCapacity(1 << 16)
        slab.reserveCapacity(1 << 16)
    }

    mutating func push(_ payload: Payload, at time: Int64) {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slab[Int(free)] = payload
        } else {
            slot = Int32(slab.count)
            slab.append(payload)
        }
        heap.append(Entry(time: time, order: nextOrder, slot: slot))
        nextOrder &+= 1
        var child = heap.count - 1
        let entry = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(entry, heap[parent]) else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = entry
    }

    mutating func pop() -> (time: Int64, payload: Payload)? {
        guard let top = heap.first, let last = heap.popLast() else { return nil }
        let count = heap.count
        if count > 0 {
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < count else { break }
                var smallest = left
                let right = left + 1
                if right < count, Self.less(heap[right], heap[left]) { smallest = right }
                guard Self.less(heap[smallest], last) else { break }
                heap[parent] = heap[smallest]
                parent = smallest
            }
            heap[parent] = last
        }
        let index = Int(top.slot)
        guard let payload = slab[index].take() else { return nil }
        freeSlots.append(top.slot)
        return (top.time, payload)
    }

    private static func less(_ lhs: Entry, _ rhs: Entry) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.order < rhs.order
    }
}
