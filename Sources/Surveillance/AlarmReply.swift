import Foundation
import Presence
import Rules

/// A supporter's reply to an alarm MESSAGE from a plain SIP phone (seed 000 §VI, variant 1): a decision
/// word and, optionally, the alarm's reference, in any order (`ok A-42`, `A-42 yes`, `no`).
///
/// Words (case-insensitive, trailing punctuation ignored): accept = `ok`, `okay`, `yes`, `y`, `accept`,
/// `accepted`, `1`; decline = `no`, `n`, `decline`, `declined`, `0`, `busy`. Any other word shaped like an
/// alarm id is taken as the reference.
public struct AlarmReply: Sendable, Hashable {
    /// The words that accept.
    public static let acceptWords: Set<String> = ["ok", "okay", "yes", "y", "accept", "accepted", "1"]
    /// The words that decline.
    public static let declineWords: Set<String> = ["no", "n", "decline", "declined", "0", "busy"]

    /// Accept or decline.
    public var decision: AlarmDecision
    /// The alarm reference the user typed, if any.
    public var reference: String?

    /// Reads a reply text; nil when it holds no decision word, or both an accept and a decline word.
    public init?(text: String) {
        var decisions: Set<AlarmDecision> = []
        var reference: String?
        let words = text.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == ";" })
        for raw in words.prefix(16) {
            let word = String(raw).trimmingCharacters(in: CharacterSet(charactersIn: ".!?:\"'()[]"))
            let lower = word.lowercased()
            if Self.acceptWords.contains(lower) {
                decisions.insert(.accept)
            } else if Self.declineWords.contains(lower) {
                decisions.insert(.decline)
            } else if reference == nil, Alarm.isValidID(word) {
                reference = word
            }
        }
        guard decisions.count == 1, let decision = decisions.first else { return nil }
        self.decision = decision
        self.reference = reference
    }

    /// The open alarm this reply from `supporter` answers: the one named by ``reference`` (compared
    /// case-insensitively) if `supporter` was contacted for it; without a reference, the alarm `supporter`
    /// was contacted for most recently. Nil when none fits.
    public func alarm(from supporter: String, among deliveries: [AlarmDelivery]) -> AlarmDelivery? {
        let candidates = deliveries.filter { $0.isOpen && $0.contacted.contains(supporter) }
        if let reference {
            return candidates.first { $0.alarm.id.lowercased() == reference.lowercased() }
        }
        return candidates.max { ($0.lastContact(of: supporter) ?? .zero) < ($1.lastContact(of: supporter) ?? .zero) }
    }
}

extension AlarmDelivery {
    /// When `supporter` was last sent a request for this alarm.
    public func lastContact(of supporter: String) -> Duration? {
        steps.last {
            if case .contacted(_, _, let who, _) = $0.kind { return who == supporter }
            return false
        }?.time
    }
}

/// The texts and bodies that carry an alarm to supporters.
public enum AlarmMessages {
    /// The media type of an alarm body in NOTIFY and SUBSCRIBE requests.
    public static let alarmContentType = "application/smf-alarm+json"
    /// The media type of a supporter's answer (a NOTIFY body): `{"alarm": "A-42", "answer": "accept"}`.
    public static let answerContentType = "application/smf-alarm-answer+json"

    /// The `text/plain` MESSAGE body for a phone (RFC 3428 §4), e.g.
    /// `ALARM A-42: fire in house-12 (critical) at 52.52000,13.40500. Reply "ok A-42" to accept or "no A-42" to decline.`
    public static func text(for alarm: Alarm) -> String {
        var text = "ALARM \(alarm.id): \(alarm.kind) in \(alarm.building) (\(alarm.severity.rawValue))"
        if let location = alarm.buildingLocation {
            text += " at " + String(format: "%.5f,%.5f", location.latitude, location.longitude)
        }
        if !alarm.summary.isEmpty { text += ", \(alarm.summary)" }
        return text + ". Reply \"ok \(alarm.id)\" to accept or \"no \(alarm.id)\" to decline."
    }

    /// The JSON alarm body of NOTIFY and SUBSCRIBE requests (``alarmContentType``).
    public static func body(for alarm: Alarm) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(alarm)).map { [UInt8]($0) } ?? []
    }

    /// Reads an alarm body (``alarmContentType``).
    ///
    /// - Throws: ``SurveillanceError/Code/invalidAlarm`` when it is not a valid alarm.
    public static func alarm(fromBody bytes: [UInt8]) throws(SurveillanceError) -> Alarm {
        guard bytes.count <= 16_384 else { throw SurveillanceError(.invalidAlarm, "the alarm body is over 16384 bytes") }
        let alarm: Alarm
        do {
            alarm = try JSONDecoder().decode(Alarm.self, from: Data(bytes))
        } catch {
            throw SurveillanceError(.invalidAlarm, "the alarm body is not a valid alarm object")
        }
        try alarm.validate()
        return alarm
    }

    /// A supporter's answer body (``answerContentType``).
    public static func answerBody(alarmID: String, _ decision: AlarmDecision) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(["alarm": alarmID, "answer": decision.rawValue])).map { [UInt8]($0) } ?? []
    }

    /// Reads a supporter's answer body: the alarm id and the decision.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidAnswerBody`` naming what is wrong.
    public static func answer(fromBody bytes: [UInt8]) throws(SurveillanceError) -> (alarmID: String, decision: AlarmDecision) {
        let fields = JSONFields(
            fields: try JSONValue.object(bytes, limit: 1024, code: .invalidAnswerBody, what: "alarm answer"),
            code: .invalidAnswerBody)
        let alarmID = try fields.string("alarm", maxLength: 64)
        guard Alarm.isValidID(alarmID) else {
            throw SurveillanceError(.invalidAnswerBody, "\"alarm\" \"\(alarmID)\" is not an alarm id")
        }
        let answer = try fields.string("answer", maxLength: 16)
        guard let decision = AlarmDecision(rawValue: answer) else {
            throw SurveillanceError(.invalidAnswerBody, "\"answer\" must be \"accept\" or \"decline\", not \"\(answer)\"")
        }
        return (alarmID, decision)
    }
}
