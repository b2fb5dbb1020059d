import Composition
import Foundation
import Testing

@testable import ServicePlatform

/// The pure helpers behind constraints: when a service is available (transcripts in a fixed zone, with its daylight
/// saving change) and where it may run.
@Suite struct ServiceAvailabilityTests {
    let zurich = TimeZone(identifier: "Europe/Zurich")!

    /// `2025-06-23 07:59` in `zone` as an instant.
    func instant(_ text: String, in zone: TimeZone) -> Duration {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let date = formatter.date(from: text)!
        return .seconds(Int64(date.timeIntervalSince1970))
    }

    /// One line per instant: its local time, open or closed, and when that next changes.
    func transcript(_ availability: ServiceAvailability, _ times: [String]) -> String {
        times.map { text in
            let at = instant(text, in: availability.timeZone)
            let next = availability.nextChange(after: at).map { ServiceAvailability.localTime($0, in: availability.timeZone) } ?? "never"
            return "\(ServiceAvailability.localTime(at, in: availability.timeZone)) \(availability.isAvailable(at: at) ? "open" : "closed") until \(next)"
        }.joined(separator: "\n")
    }

    /// A window from `from` to `to` o'clock on `days`.
    func window(_ days: [Weekday], _ from: Int, _ to: Int) -> TimeWindow { TimeWindow(days: days, fromMinute: from * 60, toMinute: to * 60) }
    /// The same every day.
    func window(_ from: Int, _ to: Int) -> TimeWindow { window([], from, to) }

    @Test func aWeekdayWindowOpensOnItsDaysOnlyAndSkipsTheWeekend() {
        // 2025-06-23 is a Monday; Zurich is at +02:00 in summer.
        let availability = ServiceAvailability(windowSets: [[window([.mon, .tue, .wed, .thu, .fri], 8, 18)]], timeZone: zurich)
        #expect(
            transcript(availability, ["2025-06-23 07:59", "2025-06-23 08:00", "2025-06-23 17:59", "2025-06-23 18:00", "2025-06-27 18:00", "2025-06-28 12:00"])
                == """
                2025-06-23 07:59 +02:00 closed until 2025-06-23 08:00 +02:00
                2025-06-23 08:00 +02:00 open until 2025-06-23 18:00 +02:00
                2025-06-23 17:59 +02:00 open until 2025-06-23 18:00 +02:00
                2025-06-23 18:00 +02:00 closed until 2025-06-24 08:00 +02:00
                2025-06-27 18:00 +02:00 closed until 2025-06-30 08:00 +02:00
                2025-06-28 12:00 +02:00 closed until 2025-06-30 08:00 +02:00
                """)
    }

    @Test func aWindowOverMidnightBelongsToTheDayItStarts() {
        // Friday 22:00 to Saturday 06:00 only: Saturday night is closed, and so is Friday before 06:00.
        let availability = ServiceAvailability(windowSets: [[window([.fri], 22, 6)]], timeZone: zurich)
        #expect(
            transcript(availability, ["2025-06-27 05:00", "2025-06-27 22:00", "2025-06-28 00:30", "2025-06-28 06:00", "2025-06-28 23:00"])
                == """
                2025-06-27 05:00 +02:00 closed until 2025-06-27 22:00 +02:00
                2025-06-27 22:00 +02:00 open until 2025-06-28 06:00 +02:00
                2025-06-28 00:30 +02:00 open until 2025-06-28 06:00 +02:00
                2025-06-28 06:00 +02:00 closed until 2025-07-04 22:00 +02:00
                2025-06-28 23:00 +02:00 closed until 2025-07-04 22:00 +02:00
                """)
    }

    @Test func severalWindowsOfAConstraintAreAlternativesAndSeveralConstraintsMustAllHold() {
        // Morning or evening …
        let either = ServiceAvailability(windowSets: [[window(6, 9), window(17, 20)]], timeZone: zurich)
        #expect(
            transcript(either, ["2025-06-23 08:30", "2025-06-23 12:00", "2025-06-23 21:00"])
                == """
                2025-06-23 08:30 +02:00 open until 2025-06-23 09:00 +02:00
                2025-06-23 12:00 +02:00 closed until 2025-06-23 17:00 +02:00
                2025-06-23 21:00 +02:00 closed until 2025-06-24 06:00 +02:00
                """)
        // … and, with an application-wide weekday window as well, only on weekdays.
        let both = ServiceAvailability(windowSets: [[window(6, 9), window(17, 20)], [window([.mon, .tue, .wed, .thu, .fri], 0, 24)]], timeZone: zurich)
        #expect(
            transcript(both, ["2025-06-27 19:00", "2025-06-28 08:00"])
                == """
                2025-06-27 19:00 +02:00 open until 2025-06-27 20:00 +02:00
                2025-06-28 08:00 +02:00 closed until 2025-06-30 06:00 +02:00
                """)
    }

    @Test func noWindowIsAlwaysOpenAndAWindowCoveringTheWholeDayNeverChanges() {
        let none = ServiceAvailability(windowSets: [], timeZone: zurich)
        #expect(none.isAlwaysAvailable)
        #expect(transcript(none, ["2025-06-23 03:00"]) == "2025-06-23 03:00 +02:00 open until never")
        let allDay = ServiceAvailability(windowSets: [[window(0, 24)]], timeZone: zurich)
        #expect(!allDay.isAlwaysAvailable)
        #expect(transcript(allDay, ["2025-06-23 03:00"]) == "2025-06-23 03:00 +02:00 open until never")
    }

    @Test func aWindowInTheHourSkippedByTheClockChangeOpensTheNextDay() {
        // On 2025-03-30 Zurich's clocks go from 02:00 +01:00 to 03:00 +02:00: 02:00–02:30 does not happen that day.
        let availability = ServiceAvailability(windowSets: [[window(2, 3)]], timeZone: zurich)
        let early = ServiceAvailability(windowSets: [[TimeWindow(fromMinute: 120, toMinute: 150)]], timeZone: zurich)
        #expect(
            transcript(early, ["2025-03-30 01:30"])
                == "2025-03-30 01:30 +01:00 closed until 2025-03-31 02:00 +02:00")
        // A window 02:00–03:00 is cut to nothing as well; 03:00 is when it would have closed.
        #expect(transcript(availability, ["2025-03-29 02:30"]) == "2025-03-29 02:30 +01:00 open until 2025-03-29 03:00 +01:00")
        #expect(transcript(availability, ["2025-03-30 01:59"]) == "2025-03-30 01:59 +01:00 closed until 2025-03-31 02:00 +02:00")
    }

    @Test func aConstraintAppliesToTheServiceItNamesOrWithoutANameToEveryService() {
        let here = SourceLocation(file: "c.xml", line: 12)
        let constraints = [
            ServiceConstraint(service: "sink", timeWindows: [window(8, 18)], location: here),
            ServiceConstraint(service: nil, timeWindows: [window([.mon], 0, 24)], location: here),
            ServiceConstraint(service: "other", timeWindows: [window(1, 2)], location: here),
        ]
        #expect(ServiceAvailability(service: "sink", constraints: constraints, timeZone: zurich).windowSets.count == 2)
        #expect(ServiceAvailability(service: "src", constraints: constraints, timeZone: zurich).windowSets == [[window([.mon], 0, 24)]])
        // Places only: no window, always available.
        let placed = [ServiceConstraint(service: nil, places: [.area("north")], location: here)]
        #expect(ServiceAvailability(service: "src", constraints: placed, timeZone: zurich).isAlwaysAvailable)
    }
}

@Suite struct ServicePlacesTests {
    let constraints = [
        ServiceConstraint(service: "mid", places: [.area("north-street"), .peer("dave")], location: SourceLocation(file: "c.xml", line: 18)),
        ServiceConstraint(service: nil, places: [.peer("sip:erin@10.0.0.9:5060"), .area("north-street"), .area("south-street")], location: SourceLocation(file: "c.xml", line: 21)),
    ]

    @Test func aNodeMustMatchOnePlaceOfEveryApplyingConstraint() {
        let places = ServicePlaces(service: "mid", constraints: constraints)
        #expect(places.violation(name: "bob", addressOfRecord: "sip:bob@10.0.0.2", area: "north-street") == nil)
        // dave is named by the first constraint but is in no area the second allows.
        #expect(places.violation(name: "dave", addressOfRecord: "sip:dave@10.0.0.4", area: nil)?.location.line == 21)
        #expect(places.violation(name: "dave", addressOfRecord: "sip:dave@10.0.0.4", area: "south-street") == nil)
        #expect(places.violation(name: "carol", addressOfRecord: "sip:carol@10.0.0.3", area: "south-street")?.location.line == 18)
        // A place naming a SIP URI matches that node.
        let other = ServicePlaces(service: "sink", constraints: constraints)
        #expect(other.violation(name: "erin", addressOfRecord: "sip:erin@10.0.0.9:5060", area: nil) == nil)
        #expect(other.violation(name: "erin", addressOfRecord: "sip:erin@10.0.0.8:5060", area: nil)?.location.line == 21)
        #expect(ServicePlaces(service: "sink", constraints: []).isUnconstrained)
    }

    @Test func aViolationIsDescribedWithItsLineItsPlacesAndTheNode() {
        #expect(ServicePlaces.describe(constraints[0]) == "the constraint on line 18 (where area north-street or peer dave)")
        #expect(ServicePlaces.describe(node: "carol", area: nil) == "node carol (no area)")
        #expect(ServicePlaces.describe(node: "carol", area: "south-street") == "node carol (area south-street)")
    }
}
