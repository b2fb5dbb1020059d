/// Durations as compositions write them: a number and a unit (`250ms`, `30s`, `1.5m`, `2h`).
public enum CompositionDuration {
    /// Reads a duration; nil when the text is not one (or is absurdly long: more than 10 years).
    public static func parse(_ text: String) -> Duration? {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite
            else { return nil }
            let seconds = value * unit.seconds
            guard seconds <= 10 * 365 * 86_400 else { return nil }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        return nil
    }
}
