import Foundation
import Testing

@testable import Composition

@Suite struct CompositionGraphTests {
    @Test func servicesAreClusteredByPlacementAndWiresLabelledWithPackageAndFilters() throws {
        let text = document(
            services: """
                <service id="rec" type="sensor-recorder" placement="peer:house-12"/>
                <service id="fwd" type="sensor-forwarder" placement="local"/>
                <service id="other" type="supporter-registry"/>
                """,
            wires: """
                <wire from="rec.forwards" to="fwd.requests"><filter name="building" value="B1"/></wire>
                """)
        let composition = try #require(load(text).composition)
        let dot = CompositionGraph.dot(for: composition)
        #expect(dot.hasPrefix("digraph \"test\" {"))
        #expect(dot.contains("label=\"peer house-12\";\n    style=dashed;\n    \"rec\" [label=\"rec\\nsensor-recorder\"];"))
        #expect(dot.contains("label=\"this node\";\n    style=dashed;\n    \"fwd\""))
        #expect(dot.contains("label=\"any member offering the type\";\n    style=dashed;\n    \"other\""))
        #expect(dot.contains("\"rec\" -> \"fwd\" [label=\"m2m-sensor-forward\\nforwards → requests\\nbuilding=B1\"];"))
        #expect(dot.hasSuffix("}\n"))
    }

    @Test func feedbackWiresAreDashed() throws {
        let path = packageRoot.appendingPathComponent("Services/energy-community/community.xml").path
        let dot = CompositionGraph.dot(for: try CompositionLoader().composition(contentsOf: path))
        let advice = dot.split(separator: "\n").filter { $0.contains("\"coordinator\" -> \"flex-") }
        #expect(advice.count == 3)
        #expect(advice.allSatisfy { $0.hasSuffix("style=dashed];") })
    }

    @Test func quotesBackslashesAndLineBreaksAreEscaped() {
        #expect(CompositionGraph.quoted("a\"b\\c\nd\re") == "\"a\\\"b\\\\c\\nde\"")
    }
}
