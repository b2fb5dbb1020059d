import Foundation
import Testing

/// `smf sim overlay` through the real binary: the report parses and its figures are plausible.
@Suite struct SimCommandTests {
    /// Runs `smf sim overlay ARGUMENTS` and returns its figures by name (the value column).
    func simulate(_ arguments: [String]) async throws -> [String: String] {
        let result = try await runTool(smfBinary(), ["sim", "overlay"] + arguments, timeout: .seconds(120))
        #expect(result.status == 0, "\(result.output)")
        var figures: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2 else { continue }
            figures[String(fields[0])] = String(fields[1])
        }
        return figures
    }

    func number(_ figures: [String: String], _ name: String) throws -> Double {
        try #require(figures[name].flatMap(Double.init), "no numeric \(name) in \(figures)")
    }

    @Test func smallRingWithoutChurnReportsEveryLookupAnsweredInFewHops() async throws {
        let figures = try await simulate(["--nodes", "60", "--duration", "30", "--seed", "3"])
        #expect(try number(figures, "nodes") == 60)
        #expect(try number(figures, "live_nodes_at_end") == 60)
        #expect(figures["ring_after_warmup_consistent"] == "true")
        #expect(try number(figures, "lookups") > 300)
        #expect(try number(figures, "lookup_success") == 100)
        // Chord: about ½·log2(60) ≈ 3 peers per lookup, the owner included.
        let hops = try number(figures, "hops_mean")
        #expect(hops >= 1 && hops <= 0.5 * log2(60) + 1.5)
        #expect(try number(figures, "hops_p99") >= hops)
        #expect(figures["puts_stored"] == "200/200")
        #expect(try number(figures, "record_survival") == 100)
        let maintenance = try number(figures, "maintenance_bytes_per_node_s")
        #expect(maintenance > 0 && maintenance < 1000)
        #expect(try number(figures, "simulated_time") == 30 + 10 + 10)  // warm-up, puts, measurement
        #expect(try number(figures, "wall_time") > 0)
        #expect(try number(figures, "speed") > 1)
    }

    @Test func sameSeedGivesTheSameFigures() async throws {
        let arguments = ["--nodes", "40", "--duration", "20", "--churn", "exponential", "--mean-session", "60", "--seed", "9"]
        var first = try await simulate(arguments)
        var second = try await simulate(arguments)
        for varying in ["wall_time", "cpu_time", "speed", "cpu_speed"] {
            first[varying] = nil
            second[varying] = nil
        }
        #expect(first == second)
        #expect(try number(first, "lookup_success") >= 90)
    }

    @Test func massFailureReportsLookupsAfterRepairAndRecordSurvival() async throws {
        let figures = try await simulate(["--nodes", "80", "--duration", "80", "--mass-failure", "25", "--records", "100"])
        #expect(try number(figures, "live_nodes_at_end") == 60)
        #expect(try number(figures, "lookups_after_repair") > 100)
        #expect(try number(figures, "lookup_success_after_repair") == 100)
        // A record is lost only when all 3 copies fail: about 1/64 of them at 25 % failures.
        #expect(try number(figures, "record_survival") >= 90)
        // Lost records are only those whose 3 holders all failed.
        let lost = (try number(figures, "records_stored") * (1 - number(figures, "record_survival") / 100)).rounded()
        #expect(lost <= (try number(figures, "records_exposed_to_mass_failure")))
    }

    @Test func badOptionIsRefusedWithUsageExitCode() async throws {
        let result = try await runTool(smfBinary(), ["sim", "overlay", "--mass-failure", "150"])
        #expect(result.status == 64)
        #expect(result.output.contains("--mass-failure"))
    }
}
