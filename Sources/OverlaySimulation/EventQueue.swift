/// A binary min-heap of timed events; ties break by insertion order, so runs replay exactly.
struct EventQueue<Payload> {
    private struct Entry {
        var time: Int64
        var order: UInt64
        var payload: Payload
    }

    private var heap: [Entry] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Int64? { heap.first?.time }

    init() {
        heap.reserveCapacity(1 << 16)
    }

    mutating func push(_ payload: Payload, at time: Int64) {
        heap.append(Entry(time: time, order: nextOrder, payload: payload))
        nextOrder &+= 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, payload: Payload)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        guard let top = heap.popLast() else { return nil }
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var smallest = left
            let right = left + 1
            if right < count, Self.less(heap[right], heap[left]) { smallest = right }
            guard Self.less(heap[smallest], heap[parent]) else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
        return (top.time, top.payload)
    }

    private static func less(_ lhs: Entry, _ rhs: Entry) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.order < rhs.order
    }
}
