import Presence
import Testing

@Suite struct PresenceTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1_000_000_000, "2001-09-09T01:46:40Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (4_102_444_800, "2100-01-01T00:00:00Z"),
    ])
    func writesUTCTimestampsFromSecondsAndReadsThemBack(seconds: Int64, text: String) throws {
        #expect(PresenceTimestamp(secondsSince1970: seconds).text == text)
        #expect(try #require(PresenceTimestamp(text)).secondsSince1970 == seconds)
    }

    @Test func readsFractionsZonesAndNoZone() throws {
        #expect(PresenceTimestamp("2005-05-30T16:09:44+05:00")?.secondsSince1970 == 1_117_451_384)
        #expect(PresenceTimestamp("2005-05-30T11:09:44.123Z")?.secondsSince1970 == 1_117_451_384)
        #expect(PresenceTimestamp("2005-05-30T06:09:44-05:00")?.secondsSince1970 == 1_117_451_384)
        #expect(PresenceTimestamp("2005-05-30T11:09:44")?.secondsSince1970 == 1_117_451_384)
        #expect(PresenceTimestamp("2005-05-29T24:00:00Z")?.secondsSince1970 == PresenceTimestamp("2005-05-30T00:00:00Z")?.secondsSince1970)
    }

    @Test(arguments: [
        "", "yesterday", "2001-02-29T00:00:00Z", "2001-10-27 16:49:29Z", "2001-13-01T00:00:00Z", "2001-10-27T16:60:00Z",
        "01-10-27T16:49:29Z", "2001-10-27T16:49:29.Z", "2001-10-27T16:49:29+15:00",
        "2001-10-27T24:00:01Z", "0000-01-01T00:00:00Z", "2001-10-27T16:49:29Zjunk",
    ])
    func refusesWhatIsNotAnXSDateTime(text: String) {
        #expect(PresenceTimestamp(text) == nil)
    }

    @Test func clampsInstantsBeyondFourDigitYears() {
        #expect(PresenceTimestamp(secondsSince1970: .max).text == "9999-12-31T23:59:59Z")
        #expect(PresenceTimestamp(secondsSince1970: .min).text == "0001-01-01T00:00:00Z")
    }
}
