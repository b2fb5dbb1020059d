// What the surveillance components share: reading their configuration, answering direct requests, their
// timer task, stable value ids. See docs/surveillance.md, "The service components".

import Composition
import Foundation
import Logging
import ServicePlatform

// MARK: - Configuration

/// Reads an instance's configuration parameters; errors name the service and the parameter.
struct ComponentParameters {
    let instance: ServiceInstanceInfo

    private func invalid(_ name: String, _ text: String, _ expected: String) -> ServicePlatformError {
        ServicePlatformError(
            .invalidConfiguration, "service \(instance.serviceID) (\(instance.serviceType)): parameter '\(name)' is \"\(text)\", not \(expected)")
    }

    /// A required string parameter.
    func requiredString(_ name: String) throws(ServicePlatformError) -> String {
        guard let text = instance.parameter(name), !text.isEmpty else {
            throw ServicePlatformError(
                .invalidConfiguration, "service \(instance.serviceID) (\(instance.serviceType)): parameter '\(name)' is required")
        }
        return text
    }

    /// An optional string parameter (empty counts as absent).
    func string(_ name: String) -> String? {
        instance.parameter(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A duration (`250ms`, `30s`, `1.5m`, `2h`) longer than zero, or `default`.
    func duration(_ name: String, default value: Duration?) throws(ServicePlatformError) -> Duration? {
        guard let text = string(name) else { return value }
        guard let duration = CompositionDuration.parse(text), duration > .zero else {
            throw invalid(name, text, "a duration longer than 0 such as 30s")
        }
        return duration
    }

    /// A decimal number, or `default`.
    func decimal(_ name: String, default value: Double?) throws(ServicePlatformError) -> Double? {
        guard let text = string(name) else { return value }
        guard let number = Double(text), number.isFinite else { throw invalid(name, text, "a decimal number") }
        return number
    }

    /// A positive integer, or `default`.
    func positiveInteger(_ name: String, default value: Int?) throws(ServicePlatformError) -> Int? {
        guard let text = string(name) else { return value }
        guard let number = Int(text), number > 0 else { throw invalid(name, text, "a positive integer") }
        return number
    }

    /// `true`/`false`, or `default`.
    func boolean(_ name: String, default value: Bool) throws(ServicePlatformError) -> Bool {
        guard let text = string(name) else { return value }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw invalid(name, text, "true or false")
        }
    }

    /// One of `choices`, or `default`.
    func choice(_ name: String, _ choices: [String], default value: String?) throws(ServicePlatformError) -> String? {
        guard let text = string(name) else { return value }
        guard choices.contains(text) else { throw invalid(name, text, "one of \(choices.joined(separator: ", "))") }
        return text
    }
}

extension ServiceInstanceInfo {
    /// The key that keeps this instance's durable state apart from other instances on the same node:
    /// `community/sub-community/application/service`.
    var stateScope: String { "\(community)/\(subcommunity)/\(application)/\(serviceID)" }

    /// A short stable tag of the instance (4 hex digits), to keep ids made by two applications apart.
    var tag: String { String(StableHash.of(stateScope) & 0xFFFF, radix: 16).leftPadded(to: 4) }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

// MARK: - Direct requests

/// The answers the components give to direct requests; every error says what was wrong.
enum DirectAnswer {
    /// 400 with the problem, on one line.
    static func badRequest(_ reason: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 400, reason: phrase(reason))
    }

    /// 403: the sender may not do this.
    static func forbidden(_ reason: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 403, reason: phrase(reason))
    }

    /// 404: nothing the request refers to.
    static func notFound(_ reason: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 404, reason: phrase(reason))
    }

    /// 405 naming what the instance takes.
    static func notAllowed(_ method: String, takes: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 405, reason: phrase("\(method) not allowed here; this instance takes \(takes)"))
    }

    /// 415 naming the media type expected.
    static func unsupportedMediaType(_ contentType: String?, expected: [String]) -> ServiceDirectAnswer {
        ServiceDirectAnswer(
            statusCode: 415,
            reason: phrase("body of type \(contentType ?? "(none)") not accepted; expected \(expected.joined(separator: " or "))"))
    }

    /// 489 Bad Event (RFC 6665 §8.3.2) naming the package expected.
    static func badEvent(_ package: String?, expected: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 489, reason: phrase("Bad Event: \(package ?? "no Event header"); expected \(expected)"))
    }

    /// 500: the request was not handled (the store failed); the sender may try again.
    static func serverError(_ reason: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 500, reason: phrase(reason))
    }

    /// A reason phrase: one line of printable text, at most 200 characters.
    static func phrase(_ text: String) -> String {
        let line = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return line.count <= 200 ? line : String(line.prefix(197)) + "..."
    }
}

extension ServiceDirectRequest {
    /// Whether the `Event` package is `package` (parameters such as `;id=` ignored, case-insensitive).
    func hasEventPackage(_ package: String) -> Bool {
        guard let eventPackage else { return false }
        let bare = eventPackage.split(separator: ";", maxSplits: 1).first.map(String.init) ?? eventPackage
        return bare.trimmingCharacters(in: .whitespaces).lowercased() == package
    }
}

// MARK: - Timers

/// The one timer task of a component: sleeps on the component's ``ServiceClock`` until the earliest
/// deadline armed, then calls the component back, which handles everything due and arms the next.
///
/// Arming an earlier deadline replaces a sleeping task; arming a later one while an earlier is armed
/// does nothing (the component re-arms when called back). A task that already woke is never cancelled
/// by arming, so the work it does is never cut short.
final class ComponentTimer: @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var sleeping: Task<Void, Never>?
    private var armed: Duration?
    private var generation = 0
    private var stopped = false

    /// Calls `fire` once `clock.now()` reaches `deadline` (at once when it has).
    func arm(at deadline: Duration, clock: ServiceClock, fire: @escaping @Sendable () async -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        if let armed, armed <= deadline, sleeping != nil { return }
        sleeping?.cancel()
        generation += 1
        let generation = generation
        armed = deadline
        sleeping = Task { [weak self] in
            let wait = deadline - clock.now()
            do {
                try await clock.sleep(max(wait, .zero))
            } catch {
                return
            }
            guard let self, self.claim(generation) else { return }
            await fire()
        }
    }

    private func claim(_ generation: Int) -> Bool {
        lock.withLock {
            guard generation == self.generation, !stopped else { return false }
            armed = nil
            sleeping = nil
            return true
        }
    }

    /// Stops the sleeping task for good (the component's ``ServiceComponent/stop()``).
    func stop() {
        lock.withLock {
            stopped = true
            sleeping?.cancel()
            sleeping = nil
            armed = nil
        }
    }
}

/// Tasks a component started (sends, subscriptions, loops), cancelled together when it stops.
final class ComponentTasks: @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var tasks: [Int: Task<Void, Never>] = [:]
    private var next = 0
    private var stopped = false

    /// Runs `operation` in a new task that ``cancelAll()`` cancels; nothing runs after that.
    func run(_ operation: @escaping @Sendable () async -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        next += 1
        let key = next
        tasks[key] = Task { [weak self] in
            await operation()
            self?.finished(key)
        }
    }

    private func finished(_ key: Int) {
        lock.withLock { _ = tasks.removeValue(forKey: key) }
    }

    /// Cancels every task and refuses new ones.
    func cancelAll() {
        let running = lock.withLock {
            stopped = true
            defer { tasks = [:] }
            return Array(tasks.values)
        }
        for task in running { task.cancel() }
    }
}

// MARK: - Ids

/// FNV-1a, 64 bits: a hash that is the same in every process and on every run, for value ids derived
/// from content.
enum StableHash {
    static func of(_ text: String) -> UInt64 { of(Array(text.utf8)) }

    static func of(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The hash in 16 hex digits.
    static func hex(_ bytes: [UInt8]) -> String {
        let text = String(of(bytes), radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

// MARK: - Values

extension ServiceValue {
    /// A sensor reading on a `readings` port: attributes building, kind and sensor (the catalogue's filters).
    static func reading(_ body: SensorReadingBody, id: String) -> ServiceValue {
        ServiceValue(
            id: id, contentType: SurveillanceMediaType.sensorReading, body: body.encoded(),
            attributes: ["building": body.building, "kind": body.kind, "sensor": body.sensorID])
    }

    /// Whether the value's media type is `expected` (a value with no type is read as `expected`).
    func isOfType(_ expected: String) -> Bool {
        contentType.isEmpty || SurveillanceMediaType.matches(contentType, expected)
    }

    /// The body read by `parse` when the media type is `expected`; nil when it cannot be read. Such a value is
    /// logged and dropped, not refused: a refused value would come back for ever.
    func decoded<T>(as expected: String, on port: String, logger: Logger, _ parse: ([UInt8]) throws -> T) -> T? {
        guard isOfType(expected) else {
            logger.droppedValue(port, self, "media type \(contentType), expected \(expected)")
            return nil
        }
        do {
            return try parse(body)
        } catch {
            logger.droppedValue(port, self, "\(error)")
            return nil
        }
    }
}

extension Logger {
    /// Logs a value a component dropped because it could not be read (at `info`: libraries log no higher).
    func droppedValue(_ port: String, _ value: ServiceValue, _ problem: String) {
        info(
            "Dropped a value that cannot be read",
            metadata: ["sdp.port": "\(port)", "sdp.value.id": "\(value.id)", "sdp.problem": "\(problem)"])
    }
}
