extension Dictionary {
    /// Gives back the storage a burst left behind: a Swift dictionary keeps its capacity after its entries are
    /// removed, so 10,000 transactions that lived at once would pin their table for the life of the node.
    /// Rebuilds the table when it has more than `minimumCapacity` slots and fewer than one in eight is used;
    /// the rebuild costs O(count), paid at most once per halving of the table, so amortised O(1) per removal.
    package mutating func shrinkIfSparse(minimumCapacity: Int = 1024) {
        guard capacity > minimumCapacity, count * 8 < capacity else { return }
        self = Dictionary(uniqueKeysWithValues: lazy.map { ($0.key, $0.value) })
    }
}
