import Foundation
import Presence
import Rules
public import ServicePlatform

/// The text of `smf alarms`: a table of alarms and a tail of their steps (issue 7).
///
/// Times are read as durations since 1970-01-01T00:00:00Z (what `smf` passes) and written in UTC with
/// milliseconds; latencies are measured from the alarm's `raised` time.
public enum AlarmListFormatter {
    /// The table's column titles.
    public static let columns = ["ID", "RAISED (UTC)", "BUILDING", "KIND", "STATE", "TOLD", "ACCEPTED BY", "FIRST CONTACT", "ACCEPTED AFTER"]

    /// A header line and one line per record, columns aligned; `told` lists supporters with the request
    /// that reached them (`bob NOTIFY, carol MESSAGE`).
    public static func table(_ records: [AlarmRecord]) -> [String] {
        let rows = [columns] + records.map(row)
        let widths = columns.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(to: widths[index])
            }.joined(separator: "  ")
        }
    }

    /// One table row's cells.
    public static func row(_ record: AlarmRecord) -> [String] {
        let alarm = record.alarm
        var told: [String] = []
        var firstContact: Duration?
        for step in record.steps {
            if case .contacted(_, _, let supporter, let channel) = step.kind {
                firstContact = firstContact ?? step.time
                let entry = "\(shortName(supporter)) \(channel.rawValue)"
                if !told.contains(entry) { told.append(entry) }
            }
        }
        let acceptedAt = record.steps.last { if case .accepted = $0.kind { true } else { false } }?.time
        return [
            alarm.id, timestamp(alarm.raisedAt), alarm.building, alarm.kind, record.state.rawValue,
            told.isEmpty ? "-" : told.joined(separator: ", "), record.acceptedBy.map(shortName) ?? "-",
            firstContact.map { latency($0 - alarm.raisedAt) } ?? "-", acceptedAt.map { latency($0 - alarm.raisedAt) } ?? "-",
        ]
    }

    /// One line per step of `record` from step index `from` on (for `smf alarms --follow`), e.g.
    /// `2026-11-23T08:00:00.120Z A-42 contacted bob (sip:bob@127.0.0.1) by NOTIFY, attempt 1`.
    public static func tail(_ record: AlarmRecord, from: Int = 0) -> [String] {
        record.steps.dropFirst(max(0, from)).map { step in
            "\(timestamp(step.time)) \(record.alarm.id) \(describe(step.kind, of: record.alarm))"
        }
    }

    /// One alarm's whole history for `smf alarms --show ID`: what it is, its path hop by hop before the notifier
    /// stored it (each hop's time since the first, and since the one before), every delivery step, who was told
    /// (when, over what, how it ended) and who accepted. Times are milliseconds since the path's first hop (the
    /// reading's arrival at the recorder), or since the alarm was raised when it has no path.
    public static func show(_ record: AlarmRecord) -> [String] {
        let alarm = record.alarm
        let origin = origin(of: record)
        var lines = [
            "alarm \(alarm.id): \(alarm.severity.rawValue) \(alarm.kind) in \(alarm.building), \(record.state.rawValue)"
                + (record.acceptedBy.map { " (accepted by \($0))" } ?? "")
        ]
        if !alarm.summary.isEmpty { lines.append("  \(alarm.summary)") }
        lines.append("")
        if record.trace.isEmpty {
            lines.append("path: not recorded (the alarm came without a trace)")
        } else {
            lines.append("path (ms since the reading reached the first service; +ms since the hop before):")
            var previous = origin
            let rows = record.trace.map { hop -> [String] in
                let at = Duration.nanoseconds(hop.atNanoseconds)
                defer { previous = at }
                return [
                    milliseconds(at - origin), "+" + milliseconds(at - previous), "\(hop.service) (\(hop.type))", hop.node,
                    hopText(hop),
                ]
            }
            lines += aligned(rows).map { "  " + $0 }
        }
        lines.append("")
        lines.append("delivery (ms since the same origin):")
        lines += aligned(record.steps.map { [milliseconds($0.time - origin), describe($0.kind, of: alarm)] }).map { "  " + $0 }
        lines.append("")
        lines.append("who was told:")
        let told = toldSupporters(record)
        if told.isEmpty { lines.append("  nobody yet") }
        lines += aligned(told.map { [shortName($0.supporter), $0.channel, "at " + milliseconds($0.at - origin), $0.outcome] }).map { "  " + $0 }
        lines.append("")
        if let accepted = record.steps.last(where: { if case .accepted = $0.kind { true } else { false } }), let by = record.acceptedBy {
            lines.append("accepted by \(by) \(milliseconds(accepted.time - origin)) after the reading (\(latency(accepted.time - alarm.raisedAt)) after the alarm was raised)")
        } else {
            lines.append(record.state == .cancelled ? "cancelled" : "not accepted yet")
        }
        return lines
    }

    /// The time every line of ``show(_:)`` counts from: the first hop of the path, else the `raised` time.
    public static func origin(of record: AlarmRecord) -> Duration {
        record.trace.first.map { .nanoseconds($0.atNanoseconds) } ?? record.alarm.raisedAt
    }

    /// Each supporter contacted, in order: the request that carried the alarm, when, and how it ended for them
    /// (`accepted`, `declined`, `escalated: no-answer`, `delivered`, `failed: …`).
    public static func toldSupporters(_ record: AlarmRecord) -> [(supporter: String, channel: String, at: Duration, outcome: String)] {
        var told: [(supporter: String, channel: String, at: Duration, outcome: String)] = []
        var byAttempt: [Int: Int] = [:]
        for step in record.steps {
            switch step.kind {
            case .contacted(let attempt, _, let supporter, let channel):
                if let index = told.firstIndex(where: { $0.supporter == supporter && $0.channel == channel.rawValue }) {
                    byAttempt[attempt] = index
                } else {
                    told.append((supporter, channel.rawValue, step.time, "sent"))
                    byAttempt[attempt] = told.count - 1
                }
            case .delivered(let attempt):
                if let index = byAttempt[attempt], told[index].outcome == "sent" { told[index].outcome = "delivered" }
            case .deliveryFailed(let attempt, let reason):
                if let index = byAttempt[attempt], told[index].outcome == "sent" { told[index].outcome = "failed: \(reason)" }
            case .accepted(let supporter):
                for index in told.indices where told[index].supporter == supporter { told[index].outcome = "accepted" }
            case .declined(let supporter):
                for index in told.indices where told[index].supporter == supporter { told[index].outcome = "declined" }
            case .escalated(let supporter, let reason):
                for index in told.indices where told[index].supporter == supporter && !["declined", "accepted"].contains(told[index].outcome) {
                    told[index].outcome = "passed over: \(reason.rawValue)"
                }
            default:
                continue
            }
        }
        return told
    }

    /// A hop in words: `took PUBLISH m2m-sensor from sip:…`, `received on readings by wire evaluate`, `emitted on alarms`.
    public static func hopText(_ hop: ServiceHop) -> String {
        switch hop.action {
        case .request: "took \(hop.port)" + (hop.detail.map { " \($0)" } ?? "")
        case .received: "received on \(hop.port)" + (hop.detail.map { " \($0)" } ?? "")
        case .emitted: "emitted on \(hop.port)"
        }
    }

    /// `12.345 ms` (three decimals under 10 ms, one above).
    public static func milliseconds(_ duration: Duration) -> String {
        let value = Double(duration.wholeNanoseconds) / 1e6
        return abs(value) < 10 ? String(format: "%.3f ms", value) : String(format: "%.1f ms", value)
    }

    /// Rows of cells, each column padded to its widest cell (the last column unpadded).
    static func aligned(_ rows: [[String]]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : cell.padding(to: widths[index]) }.joined(separator: "  ")
        }
    }

    /// A step in words.
    public static func describe(_ kind: AlarmStep.Kind, of alarm: Alarm) -> String {
        switch kind {
        case .raised:
            "raised: \(alarm.severity.rawValue) \(alarm.kind) in \(alarm.building)"
                + (alarm.summary.isEmpty ? "" : " (\(alarm.summary))")
        case .selected(let recipients):
            recipients.isEmpty
                ? "selected nobody"
                : "selected \(recipients.count): " + recipients.map { shortName($0.supporter) }.joined(separator: ", ")
        case .contacted(let attempt, _, let supporter, let channel):
            "contacted \(shortName(supporter)) (\(supporter)) by \(channel.rawValue), attempt \(attempt)"
        case .delivered(let attempt):
            "attempt \(attempt) delivered"
        case .deliveryFailed(let attempt, let reason):
            "attempt \(attempt) failed: \(reason)"
        case .accepted(let supporter):
            "accepted by \(shortName(supporter)) (\(supporter))"
        case .declined(let supporter):
            "declined by \(shortName(supporter))"
        case .escalated(let supporter, let reason):
            "escalated from \(shortName(supporter)): \(reason.rawValue)"
        case .exhausted(let round):
            "round \(round) exhausted: nobody accepted; owners alerted"
        case .restarted(let round):
            "round \(round) started"
        case .cancelled(let by, let reason):
            "cancelled by \(by): \(reason)"
        }
    }

    /// The user part of a SIP URI (`sip:bob@host` → `bob`), or the whole text.
    public static func shortName(_ uri: String) -> String {
        var rest = Substring(uri)
        for scheme in ["sips:", "sip:"] where rest.lowercased().hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        guard let at = rest.firstIndex(of: "@"), at != rest.startIndex else { return uri }
        return String(rest[..<at])
    }

    /// `2026-11-23T08:00:00.120Z` for a duration since 1970.
    public static func timestamp(_ time: Duration) -> String {
        let milliseconds = time.wholeNanoseconds / 1_000_000
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let fraction = milliseconds - seconds * 1000
        let text = PresenceTimestamp(secondsSince1970: seconds).text
        let digits = String(fraction)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// `850 ms`, `12.3 s`, `4 min 05 s`.
    public static func latency(_ duration: Duration) -> String {
        let milliseconds = max(0, duration.wholeNanoseconds / 1_000_000)
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        if milliseconds < 60_000 { return "\(milliseconds / 1000).\(milliseconds % 1000 / 100) s" }
        let seconds = milliseconds / 1000
        let remainder = seconds % 60
        return "\(seconds / 60) min \(remainder < 10 ? "0" : "")\(remainder) s"
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
