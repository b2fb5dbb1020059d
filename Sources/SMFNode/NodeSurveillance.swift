// Building surveillance on a node (issue 7; docs/surveillance.md): the control commands behind `smf sensor report`,
// `smf alarms`, `smf supporter register|availability` and `smf alarm inbox|answer`. The surveillance components
// themselves are registered with the node's stores in NodeServices.swift (`serviceRegistry`); a supporter's own
// node is NodeSupporter.swift.

import Composition
import ControlChannel
import Foundation
import Rules
import ServicePlatform
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage
import Surveillance

/// What a node does for building surveillance beyond running its services (`smf run` options).
public struct NodeSurveillanceOptions: Sendable {
    /// How the node answers alarms sent to its supporter by itself (`--alarm-auto-answer`; default none).
    public var alarmAutoAnswer: AlarmAutoAnswer = .none

    public init() {}
}

extension SMFNode {
    /// Registers `sensor.report`, `alarms.list`, `alarms.follow`, `alarms.show`, `supporter.register`,
    /// `supporter.availability`, `alarm.inbox`, `alarm.inbox.follow` and `alarm.answer` (docs/cli.md).
    func registerSurveillanceCommands() throws(ControlError) {
        let slot = self.runtimeSlot
        let transport = self.transport
        @Sendable func runtime() throws -> NodeRuntime {
            guard let runtime = slot.current else { throw ControlError(.notRunning, "the node's SIP endpoint has not started") }
            return runtime
        }

        try control.register(
            "sensor.report", arguments: SensorReportArguments.self,
            summary: "PUBLISH sensor readings (m2m-sensor) to an application's recorder; answers what it said"
        ) { args, _ in
            let runtime = try runtime()
            return try await Self.reportReadings(args, runtime: runtime, transport: transport)
        }

        try control.register("alarms.list", arguments: AlarmsArguments.self, summary: "the notifier's alarms on this node, newest last") {
            args, _ in
            let records = try Self.alarmRecords(try runtime(), limit: args.limit)
            return AlarmsListResult(lines: AlarmListFormatter.table(records), alarms: records.map(Self.summary))
        }

        try control.register("alarms.show", arguments: AlarmsArguments.self, summary: "one alarm: its path hop by hop, who was told, who accepted") {
            args, _ in
            guard let id = args.id else { throw ControlError(.badArgument, "name the alarm") }
            let store = SQLiteAlarmStore(database: try runtime().database)
            guard let record = try Self.storeCall({ try store.record(id: id) }) else {
                throw ControlError(.notFound, "no alarm \(id) on this node (smf alarms lists them)")
            }
            return Self.detail(record)
        }

        try control.registerStream("alarms.follow", summary: "each new step of the notifier's alarms on this node, as it is stored") { args, sink in
            let arguments = try args.decode(AlarmsArguments.self)
            var seen: [String: Int] = [:]
            for record in try Self.alarmRecords(try runtime(), limit: arguments.limit) { seen[record.alarm.id] = record.steps.count }
            while true {
                try await Task.sleep(for: .milliseconds(100))
                for record in try Self.alarmRecords(try runtime(), limit: max(arguments.limit, 100)) {
                    let known = seen[record.alarm.id] ?? 0
                    guard record.steps.count > known else { continue }
                    for line in AlarmListFormatter.tail(record, from: known) {
                        try await sink.yield(encoding: AlarmFollowLine(alarm: record.alarm.id, text: line))
                    }
                    seen[record.alarm.id] = record.steps.count
                }
            }
        }

        try control.register(
            "supporter.register", arguments: SupporterRegisterArguments.self,
            summary: "register this node's supporter with an application's registry (and watch its notifier)"
        ) { args, _ in
            try await runtime().supporter.register(args)
        }

        try control.register(
            "supporter.availability", arguments: SupporterAvailabilityArguments.self,
            summary: "PUBLISH this node's availability and location (PIDF, PIDF-LO) to an application's availability service"
        ) { args, _ in
            try await runtime().supporter.reportAvailability(args)
        }

        try control.register("alarm.inbox", arguments: AlarmInboxArguments.self, summary: "the alarms this node's supporter was told about") {
            args, _ in
            let supporter = try runtime().supporter
            return try await Self.storeTask { try await supporter.inbox(args) }
        }

        try control.registerStream("alarm.inbox.follow", summary: "the inbox, then each alarm as it arrives") { args, sink in
            let supporter = try runtime().supporter
            let arguments = try args.decode(AlarmInboxArguments.self)
            let (id, live) = await supporter.follow()
            do {
                var last = arguments.after
                for alarm in try await Self.storeTask({ try await supporter.inbox(arguments) }) {
                    try await sink.yield(encoding: alarm)
                    last = alarm.sequence
                }
                for await row in live where row.sequence > last { try await sink.yield(encoding: NodeSupporter.view(row)) }
            } catch {
                await supporter.stopFollowing(id)
                throw error
            }
            await supporter.stopFollowing(id)
        }

        try control.register("alarm.answer", arguments: AlarmAnswerArguments.self, summary: "accept or decline an alarm of the inbox") { args, _ in
            guard let decision = AlarmDecision(rawValue: args.decision) else {
                throw ControlError(.badArgument, "the answer is accept or decline, not '\(args.decision)'")
            }
            let supporter = try runtime().supporter
            return try await Self.storeTask { try await supporter.answer(args.id, decision) }
        }
    }

    /// Turns a store failure into a control error that says so (control errors pass unchanged).
    static func storeTask<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ControlError {
            throw error
        } catch {
            throw ControlError(.internalError, "the node's database failed: \(error)")
        }
    }

    static func storeCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ControlError {
            throw error
        } catch {
            throw ControlError(.internalError, "the node's database failed: \(error)")
        }
    }

    static func alarmRecords(_ runtime: NodeRuntime, limit: Int) throws -> [AlarmRecord] {
        let store = SQLiteAlarmStore(database: runtime.database)
        return try storeCall { try store.recentAlarms(limit: max(1, limit)) }
    }

    static func summary(_ record: AlarmRecord) -> AlarmSummary {
        AlarmSummary(
            id: record.alarm.id, kind: record.alarm.kind, severity: record.alarm.severity.rawValue, building: record.alarm.building,
            state: record.state.rawValue, acceptedBy: record.acceptedBy, raisedAtNanoseconds: record.alarm.raisedAt.wholeNanoseconds,
            told: AlarmListFormatter.toldSupporters(record).map { "\($0.supporter) \($0.channel)" }, steps: record.steps.count)
    }

    static func detail(_ record: AlarmRecord) -> AlarmDetail {
        let origin = AlarmListFormatter.origin(of: record)
        func milliseconds(_ time: Duration) -> Double { Double((time - origin).wholeNanoseconds) / 1e6 }
        return AlarmDetail(
            summary: summary(record), lines: AlarmListFormatter.show(record),
            path: record.trace,
            deliverySteps: record.steps.map { AlarmTimedLine(atMilliseconds: milliseconds($0.time), text: AlarmListFormatter.describe($0.kind, of: record.alarm)) },
            originNanoseconds: origin.wholeNanoseconds)
    }

    /// Sends the readings of `sensor.report`, one PUBLISH each, `window` at a time.
    static func reportReadings(_ args: SensorReportArguments, runtime: NodeRuntime, transport: SIPTransport) async throws -> SensorReportResult {
        guard (1...1_000_000).contains(args.count) else { throw ControlError(.badArgument, "--count must be 1 to 1000000, not \(args.count)") }
        guard args.value.isFinite else { throw ControlError(.badArgument, "--value must be a finite number") }
        if (args.latitude == nil) != (args.longitude == nil) { throw ControlError(.badArgument, "a location needs both latitude and longitude") }
        let located = try await NodeRequests.locate(args.application, to: args.to, type: "sensor-recorder", services: runtime.services)
        let sender = runtime.addressOfRecord
        let started = ContinuousClock.now
        let window = max(1, min(args.window, 1000))
        var accepted = 0
        var failures: [String: Int] = [:]
        var first: RequestOutcome?
        var next = 0
        await withTaskGroup(of: RequestOutcome.self) { group in
            func add(_ index: Int) {
                let sensor = args.count == 1 ? args.sensor : "\(args.sensor)-\(index + 1)"
                let body = SensorReadingBody(
                    sensorID: sensor, building: args.building, kind: args.kind, value: args.value, time: nil, latitude: args.latitude,
                    longitude: args.longitude)
                group.addTask {
                    await NodeRequests.send(
                        .publish, to: located.target, from: sender, event: M2MEventPackage.sensor,
                        body: SIPEventBody(contentType: SensorReadingBody.contentType, bytes: body.encoded()), expires: nil, transport: transport)
                }
            }
            while next < min(window, args.count) {
                add(next)
                next += 1
            }
            for await outcome in group {
                if first == nil { first = outcome }
                if outcome.isSuccess {
                    accepted += 1
                } else {
                    failures[outcome.statusCode.map { "\($0) \(outcome.reason ?? "")" } ?? (outcome.reason ?? "no answer"), default: 0] += 1
                }
                if next < args.count {
                    add(next)
                    next += 1
                }
            }
        }
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        return SensorReportResult(
            target: located.target.description, sent: args.count, accepted: accepted, statusCode: first?.statusCode, reason: first?.reason,
            failures: failures, elapsedSeconds: Double(seconds) + Double(attoseconds) / 1e18)
    }
}
