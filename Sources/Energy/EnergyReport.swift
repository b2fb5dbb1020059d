import Foundation

/// Text renderings of a comparison for `smf demo energy`: the feeder load curves and the figures table.
public enum EnergyReport {
    /// Markers of the strategies in the plot, in ``EnergyStrategy/allCases`` order (later ones are drawn on top).
    static let markers: [EnergyStrategy: Character] = [.uncoordinated: ".", .alone: "o", .community: "#"]

    /// The feeder's net load of every strategy in one ASCII plot, at most `width` columns wide and `height`
    /// rows high (plus axis and legend). Each column is the highest value of the intervals it covers.
    public static func plot(_ comparison: EnergyComparison, width: Int = 100, height: Int = 18) -> String {
        let grid = comparison.day.grid
        let label = 8  // "-123 kW|"
        let columnsAvailable = max(width - label - 1, 8)
        let perColumn = max(1, (grid.intervalCount + columnsAvailable - 1) / columnsAvailable)
        let columns = (grid.intervalCount + perColumn - 1) / perColumn
        let series = comparison.outcomes.map { outcome in
            (0..<columns).map { c in
                let slice = outcome.feeder[(c * perColumn)..<min((c + 1) * perColumn, outcome.feeder.count)]
                return slice.max() ?? 0
            }
        }
        let all = series.flatMap { $0 }
        let top = max(all.max() ?? 1, 1)
        let bottom = min(all.min() ?? 0, 0)
        let rows = max(height, 4)
        let step = (top - bottom) / Double(rows - 1)
        func row(of value: Double) -> Int { Int(((top - value) / step).rounded()) }
        var canvas = [[Character]](repeating: [Character](repeating: " ", count: columns), count: rows)
        let zero = row(of: 0)
        for c in 0..<columns where zero >= 0 && zero < rows { canvas[zero][c] = "-" }
        for (index, outcome) in comparison.outcomes.enumerated() {
            let marker = markers[outcome.strategy] ?? "*"
            for (c, value) in series[index].enumerated() {
                let r = min(max(row(of: value), 0), rows - 1)
                canvas[r][c] = marker
            }
        }
        var lines: [String] = ["feeder net load, kW (import > 0 > export); one column = \(perColumn * grid.intervalMinutes) min, highest value shown"]
        for (r, cells) in canvas.enumerated() {
            let value = r == zero ? 0 : top - Double(r) * step
            let axis = r == 0 || r == rows - 1 || r == zero || r % 4 == 0 ? String(format: "%5.0f kW", value) : String(repeating: " ", count: 8)
            lines.append(axis.padding(toLength: label, withPad: " ", startingAt: 0) + "|" + String(cells))
        }
        var ticks = [Character](repeating: " ", count: columns)
        var hours = [Character](repeating: " ", count: columns + 5)
        for c in 0..<columns {
            let interval = c * perColumn
            let minutes = grid.startHour * 60 + interval * grid.intervalMinutes
            if minutes % 180 == 0 {
                ticks[c] = "+"
                for (k, ch) in grid.clockLabel(interval).prefix(5).enumerated() where c + k < hours.count { hours[c + k] = ch }
            }
        }
        lines.append(String(repeating: " ", count: label) + "+" + String(ticks))
        lines.append(String(repeating: " ", count: label + 1) + String(hours))
        let legend = comparison.outcomes.map { "\(markers[$0.strategy] ?? "*") \($0.strategy.label)" }.joined(separator: "   ")
        lines.append(String(repeating: " ", count: label + 1) + legend)
        return lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }.joined(separator: "\n")
    }

    /// The figures table: strategy, peak kW, peak reduction % (against each household alone), community
    /// self-consumption %, energy shifted kWh, and the highest export (kW); columns separated by at least two spaces.
    public static func table(_ comparison: EnergyComparison) -> String {
        let header = ["strategy", "peak kW", "peak reduction %", "self-consumption %", "energy shifted kWh", "export kW"]
        var rows = [header]
        for outcome in comparison.outcomes {
            rows.append([
                outcome.strategy.label,
                String(format: "%.1f", outcome.peakKW),
                String(format: "%.1f", comparison.peakReductionPct(outcome.strategy)),
                String(format: "%.1f", outcome.selfConsumptionPct),
                String(format: "%.1f", outcome.energyShiftedKWh),
                String(format: "%.1f", outcome.maxExportKW),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, text in
                column == 0 ? text.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - text.count) + text
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
