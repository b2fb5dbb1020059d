import Composition
import Foundation

/// The package root, from this file's path (Tests/CompositionTests/…).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A composition document around `services` (and `wires`, `constraints`), starting on line 1 with the
/// root element, so `<services>` is line 2 and the first service line 3.
func document(services: String, wires: String = "", constraints: String = "") -> String {
    var text = """
        <composition xmlns="urn:smf:composition:1" name="test" community="c" subcommunity="c/s">
        <services>
        \(services)
        </services>
        """
    if !wires.isEmpty { text += "\n<wires>\n\(wires)\n</wires>" }
    if !constraints.isEmpty { text += "\n<constraints>\n\(constraints)\n</constraints>" }
    return text + "\n</composition>\n"
}

/// Loads `text` with the built-in catalogue under the name `test.xml`.
func load(_ text: String) -> CompositionLoadResult {
    CompositionLoader().load(bytes: Array(text.utf8), fileName: "test.xml")
}

/// The diagnostics of `text`, as printed.
func problems(_ text: String) -> [String] {
    load(text).diagnostics.map(\.description)
}
