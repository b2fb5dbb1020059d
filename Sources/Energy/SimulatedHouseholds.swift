/// The households of a seeded simulated day whose houses one node has: the node's configuration of the energy
/// services (`smf run --energy-households h000-h016 --energy-seed 1`, docs/energy.md "Households on a node").
///
/// A node so configured hosts those households and no others: a `household-meter` or `flexibility` service placed on
/// it serves the households it names among them, or all of them when it names none; one that names another household,
/// or another `seed` or `simulated-households`, is refused before the node commits its part of the deployment.
public struct SimulatedHouseholds: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The household ids, in the day's order (`h000`, `h001`, …).
    public let ids: [String]
    /// The seed of the simulated day.
    public let seed: UInt64
    /// How many households the simulated day has (the feeder's, not the node's).
    public let simulatedHouseholds: Int

    /// The households `text` names, of the day of `simulatedHouseholds` households generated from `seed`.
    ///
    /// `text` lists ids and ranges separated by commas or spaces: `h000-h016`, `h003 h007`, `h000-h004,h010`.
    /// - Throws: ``EnergyConfigurationError`` naming the item that is not a household of that day, a range that runs
    ///   backwards, a household named twice, or an empty list.
    public init(parsing text: String, seed: UInt64 = 1, simulatedHouseholds: Int = 50) throws(EnergyConfigurationError) {
        guard (1...1000).contains(simulatedHouseholds) else {
            throw EnergyConfigurationError("the simulated day has 1…1000 households, not \(simulatedHouseholds)")
        }
        var indexes: [Int] = []
        for item in text.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
            let ends = item.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, let first = Self.index(of: ends[0], below: simulatedHouseholds),
                let last = ends.count == 2 ? Self.index(of: ends[1], below: simulatedHouseholds) : first
            else {
                throw EnergyConfigurationError(
                    "'\(item)' is not a household of the simulated day of \(simulatedHouseholds) households (h000…\(Household.id(index: simulatedHouseholds - 1))) nor a range of them such as h000-h016")
            }
            guard first <= last else { throw EnergyConfigurationError("the range '\(item)' runs backwards") }
            indexes += Array(first...last)
        }
        guard !indexes.isEmpty else { throw EnergyConfigurationError("names no household; give ids or ranges such as h000-h016") }
        var seen = Set<Int>()
        for index in indexes where !seen.insert(index).inserted {
            throw EnergyConfigurationError("names household \(Household.id(index: index)) twice")
        }
        self.ids = indexes.sorted().map(Household.id(index:))
        self.seed = seed
        self.simulatedHouseholds = simulatedHouseholds
    }

    /// `h000-h016, h020 (18 of the 50 households of seed 1)`.
    public var description: String {
        var runs: [String] = []
        var numbers = ids.compactMap { Self.index(of: Substring($0), below: Int.max) }[...]
        while let first = numbers.popFirst() {
            var last = first
            while numbers.first == last + 1 { last = numbers.removeFirst() }
            runs.append(first == last ? Household.id(index: first) : "\(Household.id(index: first))-\(Household.id(index: last))")
        }
        return "\(runs.joined(separator: ", ")) (\(ids.count) of the \(simulatedHouseholds) households of seed \(seed))"
    }

    /// The index of `hNNN`, if it is one below `count`.
    private static func index(of text: Substring, below count: Int) -> Int? {
        guard text.first == "h", text.count >= 4, let index = Int(text.dropFirst()), Household.id(index: index) == text, index < count
        else { return nil }
        return index
    }
}

/// A node's energy configuration cannot be used; the message says which part and why.
public struct EnergyConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(_ message: String) {
        self.message = message
    }
}

extension Household {
    /// The id of the household at `index` of a simulated day: `h000`, `h001`, …, `h999`.
    public static func id(index: Int) -> String {
        let digits = String(index)
        return "h" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}
