import Foundation
public import Overlay

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-ring experiments: build a ring, store records, run lookups under churn or failure,
/// and report hops, lookup success, record survival and maintenance traffic.
public enum OverlaySimulation {
    /// How the ring is built before measuring.
    public enum InitialRing: Sendable {
        /// Every node starts with the true predecessor, successors and fingers.
        case converged
        /// Nodes join one by one through the protocol, this far apart.
        case joined(interval: Duration)
        /// Nodes join through the protocol at uniformly random times within this window, each
        /// through a node whose join started earlier (which may itself still be joining).
        case joinedWithin(Duration)
    }

    /// How nodes come and go during the measurement.
    public enum Churn: Sendable {
        /// Nobody leaves.
        case none
        /// Session times are exponentially distributed with this mean; each failed node is
        /// replaced by a fresh one (new Node-ID) joining through a random live peer.
        case exponential(meanSession: Duration)
        /// Session times are Pareto distributed with this mean and shape (> 1).
        case pareto(meanSession: Duration, shape: Double)
    }

    /// A fraction of the nodes failing at once.
    public struct MassFailure: Sendable {
        /// When, from the start of the measurement.
        public var at: Duration
        /// The fraction of live nodes failing.
        public var fraction: Double

        /// Creates a mass failure.
        public init(at: Duration, fraction: Double) {
            self.at = at
            self.fraction = fraction
        }
    }

    /// What to simulate.
    public struct Configuration: Sendable {
        /// Nodes in the ring. Default 1000.
        public var nodeCount = 1000
        /// Seeds every random choice. Default 1.
        public var seed: UInt64 = 1
        /// The nodes' tunables.
        public var overlay = OverlayConfiguration()
        /// Latency, loss, partitions.
        public var network = OverlaySimulator.Network()
        /// How the ring is built. Default converged.
        public var initialRing = InitialRing.converged
        /// Virtual time run before storing records and measuring. Default 30 s.
        public var warmup: Duration = .seconds(30)
        /// Virtual time measured. Default 120 s.
        public var duration: Duration = .seconds(120)
        /// Records stored before measuring. Default 200.
        public var recordCount = 200
        /// Distinct identities signing the records. Default 4.
        public var writerCount = 4
        /// Lookups (gets of stored records) per second over the whole ring. Default 20.
        public var lookupRate = 20.0
        /// Churn during the measurement. Default none.
        public var churn = Churn.none
        /// An optional mass failure during the measurement.
        public var massFailure: MassFailure?
        /// Lookups issued this long after the mass failure count as "after repair". Default 30 s.
        public var repairGrace: Duration = .seconds(30)

        /// The default configuration.
        public init() {}
    }

    /// What a run measured.
    public struct Report: Sendable, CustomStringConvertible {
        /// Nodes at the start.
        public var nodeCount = 0
        /// Live joined nodes at the end.
        public var liveNodesAtEnd = 0
        /// Virtual seconds simulated in total (warm-up included).
        public var simulatedSeconds = 0.0
        /// Wall-clock seconds the run took.
        public var wallSeconds = 0.0
        /// CPU seconds the simulating thread used (the run is single-threaded).
        public var cpuSeconds = 0.0
        /// Virtual seconds per wall-clock second.
        public var speedup: Double { wallSeconds > 0 ? simulatedSeconds / wallSeconds : 0 }
        /// Virtual seconds per CPU second of the simulating thread: the speed on one core of its
        /// own, which other processes loading the machine do not change.
        public var cpuSpeedup: Double { cpuSeconds > 0 ? simulatedSeconds / cpuSeconds : 0 }
        /// Lookups completed (answered or failed) during the measurement.
        public var lookups = 0
        /// Lookups that returned the record.
        public var lookupsSucceeded = 0
        /// Failed lookups whose record no live node holds any more (lost, not misrouted).
        public var lookupsOfLostRecords = 0
        /// Lookups issued after the mass failure plus the repair grace, and how many succeeded.
        public var lookupsAfterRepair = 0
        /// See ``lookupsAfterRepair``.
        public var lookupsAfterRepairSucceeded = 0
        /// Mean peers asked per successful lookup.
        public var hopsMean = 0.0
        /// 99th percentile of peers asked.
        public var hopsP99 = 0
        /// The ring check at the end of the warm-up, before any record is stored.
        public var ringAfterWarmup = OverlaySimulator.RingCheck()
        /// Puts issued before measuring (one per record).
        public var putsIssued = 0
        /// Puts the owner confirmed as stored.
        public var putsStored = 0
        /// Records stored before measuring.
        public var recordsStored = 0
        /// Of those, records some live node still holds at the end.
        public var recordsSurviving = 0
        /// Records whose every copy was on a node of the mass failure (the owner and its
        /// `replicaCount − 1` successors in the true ring just before it): the loss that the
        /// replica count allows. Record loss beyond this would be the protocol's fault.
        public var recordsExposedToMassFailure = 0
        /// Maintenance bytes sent per live node per second.
        public var maintenanceBytesPerNodePerSecond = 0.0
        /// Request bytes sent per live node per second.
        public var requestBytesPerNodePerSecond = 0.0
        /// Events processed.
        public var events = 0

        /// Lookups that found their record, among records that still exist.
        public var lookupSuccess: Double {
            let relevant = lookups - lookupsOfLostRecords
            return relevant > 0 ? Double(lookupsSucceeded) / Double(relevant) : 1
        }

        /// Success of the lookups issued after repair, among records that still exist.
        public var lookupSuccessAfterRepair: Double {
            lookupsAfterRepair > 0 ? Double(lookupsAfterRepairSucceeded) / Double(lookupsAfterRepair) : 1
        }

        /// Fraction of stored records still held by a live node.
        public var recordSurvival: Double { recordsStored > 0 ? Double(recordsSurviving) / Double(recordsStored) : 1 }

        /// The fraction of stored records the replica count allows to be lost (see ``recordsExposedToMassFailure``).
        public var allowedRecordLoss: Double { recordsStored > 0 ? Double(recordsExposedToMassFailure) / Double(recordsStored) : 0 }

        public var description: String {
            func f(_ value: Double, _ digits: Int = 3) -> String {
                let scale = Double([1, 10, 100, 1000, 10000][min(digits, 4)])
                return "\((value * scale).rounded() / scale)"
            }
            return """
                nodes=\(nodeCount) live_end=\(liveNodesAtEnd) sim_s=\(f(simulatedSeconds, 1)) wall_s=\(f(wallSeconds, 2)) \
                cpu_s=\(f(cpuSeconds, 2)) speedup=\(f(speedup, 1))x cpu_speedup=\(f(cpuSpeedup, 1))x
                lookups=\(lookups) success=\(f(lookupSuccess, 4)) lost_record_lookups=\(lookupsOfLostRecords) \
                after_repair=\(lookupsAfterRepairSucceeded)/\(lookupsAfterRepair)
                hops_mean=\(f(hopsMean)) hops_p99=\(hopsP99)
                ring_after_warmup: \(ringAfterWarmup)
                puts=\(putsStored)/\(putsIssued) records=\(recordsStored) surviving=\(recordsSurviving) survival=\(f(recordSurvival, 4)) \
                exposed_to_mass_failure=\(recordsExposedToMassFailure)
                maintenance_B_per_node_s=\(f(maintenanceBytesPerNodePerSecond, 1)) request_B_per_node_s=\(f(requestBytesPerNodePerSecond, 1)) events=\(events)
                """
        }
    }

    /// Runs one experiment.
    public static func run(_ configuration: Configuration) -> Report {
        let clock = ContinuousClock()
        let started = clock.now
        let startedCPU = threadCPUSeconds()
        var experiment = Experiment(configuration)
        var report = experiment.run()
        report.cpuSeconds = threadCPUSeconds() - startedCPU
        let elapsed = started.duration(to: clock.now)
        report.wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    /// CPU seconds the calling thread has used so far (a measurement of the driver, not protocol time).
    static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }
}

/// Mutable bookkeeping shared with the simulator's completion callback.
final class ExperimentLog {
    struct Issued {
        var origin: Int
        var resource: ResourceID
        var afterRepair: Bool
    }

    var issued: [OverlayRequestID: Issued] = [:]
    var puts: [OverlayRequestID: ResourceID] = [:]
    var putsIssued = 0
    var putsStored = 0
    var stored: [ResourceID] = []
    var ringAfterWarmup = OverlaySimulator.RingCheck()
    var measuring = false
    var hops: [Int] = []
    var lookups = 0
    var succeeded = 0
    var failedResources: [(ResourceID, afterRepair: Bool)] = []
    var afterRepair = 0
    var afterRepairSucceeded = 0
    var recordsExposed = 0
}

struct Experiment {
    let configuration: OverlaySimulation.Configuration
    var simulator: OverlaySimulator
    let log = ExperimentLog()
    var random: SplitMix64

    init(_ configuration: OverlaySimulation.Configuration) {
        self.configuration = configuration
        simulator = OverlaySimulator(configuration: configuration.overlay, network: configuration.network, seed: configuration.seed)
        random = SplitMix64(seed: configuration.seed &* 0x2545_f491_4f6c_dd1d)
    }

    mutating func run() -> OverlaySimulation.Report {
        let log = self.log
        simulator.onCompletion = { _, _, completion in
            if let resource = log.puts.removeValue(forKey: completion.requestID) {
                if case .success(.stored) = completion.result {
                    log.stored.append(resource)
                    log.putsStored += 1
                }
                return
            }
            guard let issued = log.issued.removeValue(forKey: completion.requestID), log.measuring else { return }
            log.lookups += 1
            if issued.afterRepair { log.afterRepair += 1 }
            if case .success(.records(let records)) = completion.result, !records.isEmpty {
                log.succeeded += 1
                if issued.afterRepair { log.afterRepairSucceeded += 1 }
                log.hops.append(completion.hops)
            } else {
                log.failedResources.append((issued.resource, issued.afterRepair))
            }
        }
        buildRing()
        simulator.countingBytes = false
        simulator.run(for: configuration.warmup)
        log.ringAfterWarmup = simulator.checkRing()
        storeRecords()
        measure()
        return report()
    }

    mutating func buildRing() {
        let indices = (0..<configuration.nodeCount).map { _ in simulator.addNode() }
        switch configuration.initialRing {
        case .converged:
            simulator.installConvergedRing(indices)
        case .joined(let interval):
            guard let first = indices.first else { return }
            simulator.send(.createRingRequested, to: first)
            for (position, index) in indices.enumerated().dropFirst() {
                let bootstrap = OverlaySimulator.address(of: indices[Int(random.next() % UInt64(position))])
                simulator.at(interval * position) { simulator in
                    simulator.send(.joinRequested(bootstrap: bootstrap), to: index)
                }
            }
            simulator.run(for: interval * indices.count)
        case .joinedWithin(let window):
            guard let first = indices.first else { return }
            simulator.send(.createRingRequested, to: first)
            let span = max(1, window.simulationMicroseconds)
            let starts = indices.dropFirst()
                .map { (index: $0, at: Int64(random.next() % UInt64(span))) }
                .sorted { ($0.at, $0.index) < ($1.at, $1.index) }
            var earlier = [first]
            for start in starts {
                let bootstrap = OverlaySimulator.address(of: earlier[Int(random.next() % UInt64(earlier.count))])
                let index = start.index
                simulator.at(.microseconds(start.at)) { simulator in
                    simulator.send(.joinRequested(bootstrap: bootstrap), to: index)
                }
                earlier.append(index)
            }
            simulator.run(for: .microseconds(span))
        }
    }

    mutating func storeRecords() {
        let writers = (0..<max(1, configuration.writerCount)).map { _ in NodeIdentity.generate() }
        let expiry = simulator.now.advanced(by: configuration.duration + configuration.warmup + .seconds(3600))
        let live = simulator.joinedIndices
        guard !live.isEmpty else { return }
        for number in 0..<configuration.recordCount {
            let record = ResourceRecord.signed(
                kind: .generic,
                name: "sim-record-\(number)",
                value: Array("contact sip:sim\(number)@10.0.0.1".utf8),
                sequence: 1,
                expiry: expiry,
                by: writers[number % writers.count]
            )
            let origin = live[Int(random.next() % UInt64(live.count))]
            log.putsIssued += 1
            let id = simulator.request({ .putRequested(record, requestID: $0) }, from: origin)
            if let completion = simulator.completions[id] {
                // Answered locally inside request(), before it could be logged as issued.
                if case .success(.stored) = completion.result {
                    log.stored.append(record.resourceID)
                    log.putsStored += 1
                }
            } else {
                log.puts[id] = record.resourceID
            }
        }
        simulator.run(for: .seconds(10))
    }

    mutating func measure() {
        simulator.resetCounters()
        simulator.countingBytes = true
        log.measuring = true
        let measurementStart = simulator.nowMicroseconds
        let repairedAfter = configuration.massFailure.map {
            measurementStart + ($0.at + configuration.repairGrace).simulationMicroseconds
        }
        // Lookups: a Poisson stream of gets of stored records from random live nodes.
        if configuration.lookupRate > 0, !log.stored.isEmpty {
            scheduleLookup(after: nextExponential(mean: 1 / configuration.lookupRate), repairedAfter: repairedAfter)
        }
        if let failure = configuration.massFailure {
            let fraction = failure.fraction
            let copies = configuration.overlay.replicaCount
            let log = self.log
            simulator.at(failure.at) { simulator in
                var live = simulator.joinedIndices
                var generator = SplitMix64(seed: UInt64(live.count) &* 7919)
                live.shuffle(using: &generator)
                let failed = Array(live.prefix(Int(Double(live.count) * fraction)))
                log.recordsExposed = Experiment.recordsExposed(log.stored, failing: failed, copies: copies, in: simulator)
                for index in failed { simulator.fail(index) }
            }
        }
        if case .none = configuration.churn {} else {
            for index in simulator.joinedIndices {
                var scheduler = ChurnScheduler(configuration: configuration, seed: random.next())
                scheduler.scheduleSessionEnd(index, in: &simulator)
            }
        }
        simulator.run(for: configuration.duration)
        log.measuring = false
    }

    /// How many of `records` have every copy on a failing node: the owner and its `copies − 1`
    /// successors in the true ring just before the failure (brute force). No replication scheme
    /// with that many copies placed on successors can keep these.
    static func recordsExposed(_ records: [ResourceID], failing: [Int], copies: Int, in simulator: OverlaySimulator) -> Int {
        let members = simulator.joinedIndices.compactMap { index in simulator.node(index).map { (id: $0.me.id, index: index) } }
            .sorted { $0.id < $1.id }
        guard !members.isEmpty else { return 0 }
        let failingSet = Set(failing)
        var exposed = 0
        for resource in Set(records) {
            var low = 0
            var high = members.count
            while low < high {
                let middle = (low + high) / 2
                if members[middle].id < resource.id { low = middle + 1 } else { high = middle }
            }
            let holders = (0..<min(copies, members.count)).map { members[(low + $0) % members.count].index }
            if holders.allSatisfy(failingSet.contains) { exposed += 1 }
        }
        return exposed
    }

    mutating func nextExponential(mean: Double) -> Double {
        -mean * log1p(-random.nextUnit())
    }

    mutating func scheduleLookup(after delay: Double, repairedAfter: Int64?) {
        let log = self.log
        var generator = SplitMix64(seed: random.next())
        let rate = configuration.lookupRate
        func issue(_ simulator: inout OverlaySimulator) {
            if let origin = simulator.randomJoinedIndex(), !log.stored.isEmpty {
                let resource = log.stored[Int(generator.next() % UInt64(log.stored.count))]
                let after = repairedAfter.map { simulator.nowMicroseconds >= $0 } ?? false
                let id = simulator.request({ .getRequested(resource, kind: nil, requestID: $0) }, from: origin)
                log.issued[id] = ExperimentLog.Issued(origin: origin, resource: resource, afterRepair: after)
                if let completion = simulator.completions.removeValue(forKey: id), let onCompletion = simulator.onCompletion {
                    // Answered locally inside request(), before it was logged as issued.
                    onCompletion(&simulator, origin, completion)
                }
            }
            let wait = -1 / rate * log1p(-generator.nextUnit())
            simulator.at(.milliseconds(Int64(wait * 1000)), issue)
        }
        simulator.at(.milliseconds(Int64(delay * 1000)), issue)
    }

    func report() -> OverlaySimulation.Report {
        var report = OverlaySimulation.Report()
        report.nodeCount = configuration.nodeCount
        let live = simulator.joinedIndices
        report.liveNodesAtEnd = live.count
        report.simulatedSeconds = Double(simulator.nowMicroseconds) / 1e6
        report.events = simulator.eventsProcessed
        var surviving = Set<ResourceID>()
        for index in live {
            guard let node = simulator.node(index) else { continue }
            for record in node.store.allRecords { surviving.insert(record.resourceID) }
        }
        let stored = Set(log.stored)
        report.ringAfterWarmup = log.ringAfterWarmup
        report.putsIssued = log.putsIssued
        report.putsStored = log.putsStored
        report.recordsStored = stored.count
        report.recordsSurviving = stored.intersection(surviving).count
        report.recordsExposedToMassFailure = log.recordsExposed
        report.lookups = log.lookups
        report.lookupsSucceeded = log.succeeded
        report.lookupsOfLostRecords = log.failedResources.filter { !surviving.contains($0.0) }.count
        let lostAfterRepair = log.failedResources.filter { $0.afterRepair && !surviving.contains($0.0) }.count
        report.lookupsAfterRepair = log.afterRepair - lostAfterRepair
        report.lookupsAfterRepairSucceeded = log.afterRepairSucceeded
        let hops = log.hops.sorted()
        if !hops.isEmpty {
            report.hopsMean = Double(hops.reduce(0, +)) / Double(hops.count)
            report.hopsP99 = hops[min(hops.count - 1, Int(Double(hops.count) * 0.99))]
        }
        let seconds = configuration.duration.simulationSeconds
        let nodeSeconds = max(1, Double(configuration.nodeCount + live.count) / 2 * seconds)
        report.maintenanceBytesPerNodePerSecond = Double(simulator.maintenanceBytes) / nodeSeconds
        report.requestBytesPerNodePerSecond = Double(simulator.requestBytes) / nodeSeconds
        return report
    }
}

/// Schedules the end of a churned node's session and its replacement (used from inside hooks).
struct ChurnScheduler {
    let configuration: OverlaySimulation.Configuration
    var random: SplitMix64

    init(configuration: OverlaySimulation.Configuration, seed: UInt64) {
        self.configuration = configuration
        random = SplitMix64(seed: seed ^ 0x5851_f42d_4c95_7f2d)
    }

    mutating func scheduleSessionEnd(_ index: Int, in simulator: inout OverlaySimulator) {
        var experimentRandom = random
        let length: Duration
        switch configuration.churn {
        case .none:
            return
        case .exponential(let mean):
            length = .milliseconds(Int64(-Double(mean.simulationMicroseconds) / 1000 * log1p(-experimentRandom.nextUnit())))
        case .pareto(let mean, let shape):
            let scale = Double(mean.simulationMicroseconds) / 1000 * (shape - 1) / shape
            length = .milliseconds(Int64(scale / pow(1 - experimentRandom.nextUnit(), 1 / shape)))
        }
        let seed = experimentRandom.next()
        random = experimentRandom
        let configuration = self.configuration
        simulator.at(length) { simulator in
            simulator.fail(index)
            guard let bootstrapIndex = simulator.randomJoinedIndex() else { return }
            let newcomer = simulator.addNode()
            let bootstrap = OverlaySimulator.address(of: bootstrapIndex)
            simulator.send(.joinRequested(bootstrap: bootstrap), to: newcomer)
            var scheduler = ChurnScheduler(configuration: configuration, seed: seed)
            scheduler.scheduleSessionEnd(newcomer, in: &simulator)
        }
    }
}

extension Duration {
    var simulationSeconds: Double { Double(simulationMicroseconds) / 1e6 }
}
