import Composition
import Foundation
import Logging
public import ServicePlatform

/// Makes `sensor-recorder` instances (service 3): they store every reading in a ``SensorReadingStore``
/// (SQLite on a node), send readings on (every one, or changes only: `report`), forward requested values to
/// the destination named in the request, and delete readings older than `retention` (default 168 h).
///
/// Durability: ``ServiceDurability/durable``. A reading is committed before `receive` returns or a PUBLISH
/// is answered 200, idempotently by the id of the value or PUBLISH that carried it; readings that arrive
/// together (an array in one body, or requests handled at the same time) share one commit.
public struct SensorRecorderFactory: ServiceComponentFactory {
    public let typeName = "sensor-recorder"
    public let durability = ServiceDurability.durable
    /// Where readings are kept.
    public let store: any SensorReadingStore

    /// Creates the factory over `store` (the node's ``SensorReadingStore``).
    public init(store: any SensorReadingStore) {
        self.store = store
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let parameters = ComponentParameters(instance: instance)
        let report = try parameters.choice("report", ["periodic", "on-change"], default: "periodic")
        return SensorRecorderComponent(
            instance: instance, store: store,
            retention: try parameters.duration("retention", default: .seconds(168 * 3600)) ?? .seconds(168 * 3600),
            changesOnly: report == "on-change")
    }
}

/// A running recorder. See ``SensorRecorderFactory``.
actor SensorRecorderComponent: ServiceComponent {
    let instance: ServiceInstanceInfo
    let store: any SensorReadingStore
    let retention: Duration
    let changesOnly: Bool
    private let committer: ReadingCommitter
    private var context: (any ServiceContext)?
    private let timer = ComponentTimer()
    /// The latest value and time of each sensor (`building`, `sensor`), for `report=on-change`.
    private var latest: [SensorKey: (value: Double, time: Duration)] = [:]

    struct SensorKey: Hashable {
        var building: String
        var sensor: String
    }

    init(instance: ServiceInstanceInfo, store: any SensorReadingStore, retention: Duration, changesOnly: Bool) {
        self.instance = instance
        self.store = store
        self.retention = retention
        self.changesOnly = changesOnly
        self.committer = ReadingCommitter(store: store, recorder: instance.stateScope)
    }

    /// How often old readings are deleted.
    var pruneInterval: Duration { max(.seconds(1), min(retention / 10, .seconds(600))) }

    func start(context: any ServiceContext) async throws {
        self.context = context
        for reading in try store.latest(recorder: instance.stateScope, building: nil, sensor: nil) {
            latest[SensorKey(building: reading.body.building, sensor: reading.body.sensorID)] = (reading.body.value, reading.time)
        }
        await timersDue()
    }

    func stop() async {
        timer.stop()
        context = nil
    }

    func timersDue() async {
        guard let context else { return }
        let now = context.clock.now()
        do {
            let deleted = try store.deleteReadings(recorder: instance.stateScope, before: now - retention)
            if deleted > 0 { context.logger.debug("Deleted old readings", metadata: ["sdp.readings.deleted": "\(deleted)"]) }
        } catch {
            context.logger.info("Old readings could not be deleted", metadata: ["sdp.problem": "\(error)"])
        }
        timer.arm(at: now + pruneInterval, clock: context.clock) { [weak self] in await self?.timersDue() }
    }

    // MARK: - Inputs

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(let port, _, let value) = input, port == "readings" else { return }
        guard let bodies = value.decoded(as: SurveillanceMediaType.sensorReading, on: port, logger: context.logger, SensorReadingBody.parseBatch)
        else { return }
        let base = value.id.isEmpty ? "value:" + StableHash.hex(value.body) : value.id
        let ids = bodies.count == 1 ? [base] : bodies.indices.map { "\(base)#\($0)" }
        try await record(bodies, ids: ids, context: context)
    }

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        switch request.method.uppercased() {
        case "PUBLISH":
            guard request.hasEventPackage(M2MEventPackage.sensor) else {
                return DirectAnswer.badEvent(request.eventPackage, expected: M2MEventPackage.sensor)
            }
            return await handleReadings(request, context: context)
        case "MESSAGE":
            if SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.sensorRequest) {
                return await handleValueRequest(request, context: context)
            }
            return await handleReadings(request, context: context)
        default:
            return DirectAnswer.notAllowed(
                request.method, takes: "PUBLISH (m2m-sensor) of readings and MESSAGE of readings or sensor requests")
        }
    }

    /// A sensor's PUBLISH, or a forwarder's MESSAGE, of one reading or an array of them.
    private func handleReadings(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        guard SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.sensorReading) else {
            return DirectAnswer.unsupportedMediaType(
                request.contentType, expected: [SurveillanceMediaType.sensorReading, SurveillanceMediaType.sensorRequest])
        }
        let bodies: [SensorReadingBody]
        do {
            bodies = try SensorReadingBody.parseBatch(request.body)
        } catch {
            return DirectAnswer.badRequest(error.description)
        }
        let now = context.clock.now()
        let ids = bodies.map { "\($0.building)/\($0.sensorID)@\(($0.time ?? now).wholeNanoseconds)" }
        do {
            try await record(bodies, ids: ids, context: context)
        } catch let error as ServicePlatformError {
            return DirectAnswer.serverError("readings stored but not passed on (\(error.message)); send them again")
        } catch {
            return DirectAnswer.serverError("readings not stored: \(error)")
        }
        return .ok
    }

    /// A request to forward stored values to a destination.
    private func handleValueRequest(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        let valueRequest: SensorValueRequest
        do {
            valueRequest = try SensorValueRequest(parsing: request.body)
        } catch {
            return DirectAnswer.badRequest(error.description)
        }
        let readings: [StoredReading]
        do {
            readings = try store.latest(recorder: instance.stateScope, building: valueRequest.building, sensor: valueRequest.sensor)
        } catch {
            return DirectAnswer.serverError("the stored readings cannot be read: \(error)")
        }
        guard !readings.isEmpty else {
            let what = [valueRequest.sensor.map { "sensor \($0)" }, valueRequest.building.map { "building \($0)" }]
                .compactMap { $0 }.joined(separator: " in ")
            return DirectAnswer.notFound("no reading of \(what) is stored")
        }
        let requestID = StableHash.hex(request.body + Array(request.from.utf8)) + "@\(context.clock.now().wholeNanoseconds)"
        do {
            for reading in readings {
                try await context.emit(
                    forward(reading, destination: valueRequest.destination, id: "request:\(requestID):\(reading.id)"), on: "forwards")
            }
        } catch {
            return DirectAnswer.serverError("the values could not be passed to the forwarder: \(error)")
        }
        return .ok
    }

    // MARK: - Recording

    /// Stores the readings (one commit, shared with readings arriving meanwhile), then sends on those
    /// reported; a reading stored before (a re-delivery) is sent on again with the same id, as it was.
    private func record(_ bodies: [SensorReadingBody], ids: [String], context: any ServiceContext) async throws {
        let now = context.clock.now()
        let readings = zip(bodies, ids).map { body, id in
            StoredReading(id: id, body: body, receivedAt: now, reported: shouldReport(body, at: now))
        }
        let outcomes = try await committer.commit(readings)
        for (reading, earlier) in zip(readings, outcomes) {
            let kept = earlier ?? reading
            guard kept.reported else { continue }
            try await context.emit(.reading(kept.body, id: kept.id), on: "readings")
            try await context.emit(forward(kept, destination: nil, id: "forward:\(kept.id)"), on: "forwards")
        }
    }

    /// Whether a reading goes out (`report=on-change`: only when its value differs from the sensor's
    /// latest); updates the sensor's latest value.
    private func shouldReport(_ body: SensorReadingBody, at now: Duration) -> Bool {
        let key = SensorKey(building: body.building, sensor: body.sensorID)
        let time = body.time ?? now
        let previous = latest[key]
        if previous.map({ time >= $0.time }) ?? true { latest[key] = (body.value, time) }
        guard changesOnly else { return true }
        return previous?.value != body.value
    }

    private func forward(_ reading: StoredReading, destination: String?, id: String) -> ServiceValue {
        ServiceValue(
            id: id, contentType: SurveillanceMediaType.forwardRequest,
            body: ForwardRequestBody(destination: destination, reading: reading.body).encoded(),
            attributes: ["building": reading.body.building, "sensor": reading.body.sensorID, "kind": reading.body.kind])
    }
}

/// Group commit for the recorder: readings handed over while a commit is running are written together in
/// the next one, so a burst of PUBLISHes costs a few fsyncs rather than one each.
final class ReadingCommitter: @unchecked Sendable {
    /// Readings per transaction at most (requests are never split).
    static let maxBatch = 5000

    private let store: any SensorReadingStore
    private let recorder: String
    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var pending: [(readings: [StoredReading], continuation: CheckedContinuation<[StoredReading?], any Error>)] = []
    private var flushing = false

    init(store: any SensorReadingStore, recorder: String) {
        self.store = store
        self.recorder = recorder
    }

    /// Stores `readings` durably; returns what ``SensorReadingStore/store(_:recorder:)`` returns for them.
    func commit(_ readings: [StoredReading]) async throws -> [StoredReading?] {
        guard !readings.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let startFlushing = lock.withLock {
                pending.append((readings, continuation))
                guard !flushing else { return false }
                flushing = true
                return true
            }
            if startFlushing { Task.detached { self.flush() } }
        }
    }

    private func flush() {
        while true {
            let batch = lock.withLock { () -> [(readings: [StoredReading], continuation: CheckedContinuation<[StoredReading?], any Error>)] in
                var taken = 0
                var count = 0
                while taken < pending.count && (taken == 0 || count + pending[taken].readings.count <= Self.maxBatch) {
                    count += pending[taken].readings.count
                    taken += 1
                }
                if taken == 0 { flushing = false }
                defer { pending.removeFirst(taken) }
                return Array(pending.prefix(taken))
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try store.store(batch.flatMap(\.readings), recorder: recorder)
                var offset = 0
                for entry in batch {
                    entry.continuation.resume(returning: Array(outcomes[offset..<offset + entry.readings.count]))
                    offset += entry.readings.count
                }
            } catch {
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
    }
}
