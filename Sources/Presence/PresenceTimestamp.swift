/// An XML Schema `dateTime` as PIDF uses it for `<timestamp>` (RFC 3863 §4.1.7) and RFC 4119's
/// `<retention-expiry>`, kept in its lexical form, e.g. `2003-06-22T20:57:29Z`.
///
/// No clock is read here: callers pass the instant in (``init(secondsSince1970:)``).
public struct PresenceTimestamp: Sendable, Hashable, CustomStringConvertible {
    /// The lexical form (`[-]YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`).
    public let text: String
    /// Seconds since 1970-01-01T00:00:00Z, whole seconds (fractions dropped); a missing time zone is
    /// read as UTC.
    public let secondsSince1970: Int64

    /// Reads an `xs:dateTime` lexical form (XML Schema Part 2 §3.2.7); nil when `text` is not one.
    public init?(_ text: String) {
        guard let seconds = Self.parse(Array(text.utf8)) else { return nil }
        self.text = text
        self.secondsSince1970 = seconds
    }

    /// The UTC timestamp `seconds` after 1970-01-01T00:00:00Z, written `YYYY-MM-DDThh:mm:ssZ`.
    ///
    /// Years outside 0001…9999 are clamped to that range.
    public init(secondsSince1970 seconds: Int64) {
        let lowest: Int64 = -62_135_596_800  // 0001-01-01T00:00:00Z
        let highest: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z
        let clamped = min(max(seconds, lowest), highest)
        let days = Self.floorDivide(clamped, 86_400)
        let secondOfDay = clamped - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        self.text =
            "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
        self.secondsSince1970 = clamped
    }

    public var description: String { text }

    // MARK: - Parsing

    private static func parse(_ bytes: [UInt8]) -> Int64? {
        var index = 0
        func digits(_ count: Int) -> Int64? {
            guard index + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            index += count
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }

        let negative = expect(UInt8(ascii: "-"))
        var yearDigits = 0
        while index + yearDigits < bytes.count, bytes[index + yearDigits] >= 0x30, bytes[index + yearDigits] <= 0x39 {
            yearDigits += 1
        }
        // Four or more digits, no leading zero beyond four; cap at 9 digits to stay far from overflow.
        guard yearDigits >= 4, yearDigits <= 9, yearDigits == 4 || bytes[index] != 0x30,
            let unsignedYear = digits(yearDigits), unsignedYear != 0
        else { return nil }
        let year = negative ? -unsignedYear : unsignedYear
        guard expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")), let day = digits(2),
            expect(UInt8(ascii: "T")), let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2),
            expect(UInt8(ascii: ":")), let second = digits(2)
        else { return nil }
        if expect(UInt8(ascii: ".")) {
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            guard index > start else { return nil }
        }
        var offsetMinutes: Int64 = 0
        if expect(UInt8(ascii: "Z")) {
            // UTC
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let zoneHours = digits(2), expect(UInt8(ascii: ":")), let zoneMinutes = digits(2),
                zoneMinutes < 60, zoneHours * 60 + zoneMinutes <= 14 * 60
            else { return nil }
            offsetMinutes = sign * (zoneHours * 60 + zoneMinutes)
        }
        guard index == bytes.count else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), minute < 60, second < 60,
            hour < 24 || (hour == 24 && minute == 0 && second == 0)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: - Civil calendar (proleptic Gregorian; H. Hinnant's days_from_civil / civil_from_days)

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
