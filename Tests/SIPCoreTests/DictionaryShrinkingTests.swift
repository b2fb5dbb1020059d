import Testing

@testable import SIPCore

@Suite struct DictionaryShrinkingTests {
    @Test func tableEmptiedAfterABurstGivesBackItsCapacityAndKeepsTheSurvivors() {
        var table: [Int: String] = [:]
        for key in 0..<10_000 { table[key] = "t\(key)" }
        let burstCapacity = table.capacity
        for key in 0..<9_990 {
            table[key] = nil
            table.shrinkIfSparse()
        }
        #expect(table.capacity < burstCapacity / 8)
        #expect(table.count == 10)
        #expect((9_990..<10_000).allSatisfy { table[$0] == "t\($0)" })
    }

    @Test func smallOrWellFilledTablesAreLeftAlone() {
        var small: [Int: Int] = [:]
        for key in 0..<500 { small[key] = key }
        for key in 0..<499 { small[key] = nil }
        let smallCapacity = small.capacity
        small.shrinkIfSparse()
        #expect(small.capacity == smallCapacity)

        var full: [Int: Int] = [:]
        for key in 0..<4_000 { full[key] = key }
        let fullCapacity = full.capacity
        full.shrinkIfSparse()
        #expect(full.capacity == fullCapacity)
    }
}
