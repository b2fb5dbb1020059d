// swift-tools-version:6.1
import PackageDescription

// MARK: - Shared settings

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// MARK: - Dependencies

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioEmbedded: Target.Dependency = .product(name: "NIOEmbedded", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let nioConcurrencyHelpers: Target.Dependency = .product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "smf",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "smf", targets: ["smf"]),
        .library(name: "SIPSyntax", targets: ["SIPSyntax"]),
        .library(name: "SIPCore", targets: ["SIPCore"]),
        .library(name: "SIPTransport", targets: ["SIPTransport"]),
        // For the Benchmarks package (a package can only depend on another's products).
        .library(name: "SIPEvents", targets: ["SIPEvents"]),
        .library(name: "SIPEndpoint", targets: ["SIPEndpoint"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "Energy", targets: ["Energy"]),
        // For the bench's `store.readings_per_s` (the reading store takes Surveillance's types).
        .library(name: "Surveillance", targets: ["Surveillance"]),
        .library(name: "OverlaySimulation", targets: ["OverlaySimulation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // MARK: - System libraries

        .systemLibrary(
            name: "CLibXML2",
            path: "Sources/CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),

        // MARK: - Targets

        .target(name: "SIPSyntax", dependencies: [nioCore], swiftSettings: swiftSettings),
        .target(name: "SIPCore", dependencies: ["SIPSyntax"], swiftSettings: swiftSettings),
        .target(
            name: "SIPTransport",
            dependencies: ["SIPSyntax", "SIPCore", nioCore, nioPosix, logging, serviceLifecycle],
            swiftSettings: swiftSettings
        ),
        .target(name: "SIPEvents", dependencies: ["SIPSyntax", "SIPCore", nioCore], swiftSettings: swiftSettings),
        .target(
            name: "SIPEndpoint",
            dependencies: ["SIPSyntax", "SIPCore", "SIPEvents", "SIPTransport", nioCore, logging],
            swiftSettings: swiftSettings
        ),
        .target(name: "Presence", dependencies: ["SIPEvents", "SIPSyntax", "XMLSupport"], swiftSettings: swiftSettings),
        .target(name: "Overlay", dependencies: [crypto, logging], swiftSettings: swiftSettings),
        .target(
            name: "OverlaySIP",
            dependencies: ["Overlay", "SIPSyntax", "SIPCore", "SIPTransport", nioCore, logging, serviceLifecycle],
            swiftSettings: swiftSettings
        ),
        .target(name: "OverlaySimulation", dependencies: ["Overlay"], swiftSettings: swiftSettings),
        // Local discovery of a bootstrap peer on the LAN (SIP OPTIONS over multicast).
        .target(name: "Discovery", dependencies: ["SIPSyntax", nioCore, nioPosix, logging], swiftSettings: swiftSettings),
        // Community and sub-community membership: founding keys, invitations, certificates, revocations,
        // signed requests. Above the SIP core; below the node.
        .target(name: "Community", dependencies: ["Overlay", "SIPSyntax", crypto, logging, nioCore], swiftSettings: swiftSettings),
        // The composition language (XSD + semantic checks) and the declarative rule evaluator.
        .target(name: "Rules", swiftSettings: swiftSettings),
        .target(name: "Composition", dependencies: ["XMLSupport", "Rules"], swiftSettings: swiftSettings),
        // Energy community: household profiles, strategies, the coordinator's plan.
        .target(name: "Energy", dependencies: ["ServicePlatform", "Composition", "Rules", logging], swiftSettings: swiftSettings),
        // The Service Delivery Platform: service components, their registry, and the runtime that deploys a
        // composition across peers and keeps its wires (SIP subscriptions) alive.
        .target(
            name: "ServicePlatform",
            dependencies: ["Composition", "Rules", "SIPSyntax", "SIPCore", "SIPEvents", "SIPEndpoint", "SIPTransport", "Overlay", "OverlaySIP", nioCore, logging],
            swiftSettings: swiftSettings
        ),
        // Building surveillance (seed 000 §VI): alarm delivery with escalation, supporter selection.
        .target(name: "Surveillance", dependencies: ["Rules", "Presence", "ServicePlatform", "Composition", logging], swiftSettings: swiftSettings),
        // Virtual time and deterministic randomness shared by the transcript tests; never linked
        // into the node.
        .target(name: "SMFTestSupport", swiftSettings: swiftSettings),
        .target(name: "ControlChannel", dependencies: [nioCore, nioPosix, nioConcurrencyHelpers, logging], swiftSettings: swiftSettings),
        .target(name: "XMLSupport", dependencies: ["CLibXML2"], swiftSettings: swiftSettings),
        .target(name: "Storage", dependencies: [grdb, logging, "SIPEndpoint", "Overlay", "Community", "ServicePlatform", "Surveillance"], swiftSettings: swiftSettings),
        .target(
            name: "SMFNode",
            dependencies: ["SIPSyntax", "SIPCore", "SIPTransport", "SIPEvents", "SIPEndpoint", "Presence", "Storage", "XMLSupport", "ControlChannel", "Overlay", "OverlaySIP", "Discovery", "Community", "Composition", "Rules", "Energy", "ServicePlatform", "Surveillance", nioCore, nioPosix, logging, serviceLifecycle, unixSignals],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "smf",
            dependencies: ["SMFNode", "SIPSyntax", "SIPTransport", "ControlChannel", "Overlay", "OverlaySimulation", "Community", "Composition", "Rules", "Energy", "ServicePlatform", "Surveillance", argumentParser, logging, serviceLifecycle, unixSignals, nioCore, nioPosix],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests

        .testTarget(name: "SIPSyntaxTests", dependencies: ["SIPSyntax", nioCore], resources: [.copy("Torture")], swiftSettings: swiftSettings),
        .testTarget(name: "SIPCoreTests", dependencies: ["SIPCore", "SIPSyntax", "SMFTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SIPTransportTests",
            dependencies: ["SIPTransport", "SIPCore", "SIPSyntax", nioCore, nioPosix, nioEmbedded, logging],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SIPEventsTests", dependencies: ["SIPEvents", "SIPCore", "SIPSyntax", "SMFTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SIPEndpointTests",
            dependencies: ["SIPEndpoint", "SIPEvents", "SIPTransport", "SIPCore", "SIPSyntax", nioCore, nioPosix, logging],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PresenceTests", dependencies: ["Presence", "SIPEvents", "SIPSyntax", "XMLSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "OverlaySIPTests",
            dependencies: ["OverlaySIP", "Overlay", "SIPTransport", "SIPSyntax", nioCore, nioPosix, logging],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "OverlayTests", dependencies: ["Overlay", "OverlaySimulation"], swiftSettings: swiftSettings),
        .testTarget(name: "DiscoveryTests", dependencies: ["Discovery", "SIPSyntax", nioCore, nioPosix, logging], swiftSettings: swiftSettings),
        .testTarget(name: "CommunityTests", dependencies: ["Community", "Overlay", "SIPSyntax", crypto, nioCore], swiftSettings: swiftSettings),
        .testTarget(name: "RulesTests", dependencies: ["Rules"], swiftSettings: swiftSettings),
        .testTarget(name: "CompositionTests", dependencies: ["Composition", "Rules", "XMLSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EnergyTests", dependencies: ["Energy", "ServicePlatform", "Composition", "Rules", logging], swiftSettings: swiftSettings),
        .testTarget(
            name: "ServicePlatformTests",
            dependencies: ["ServicePlatform", "Composition", "Rules", "SIPEndpoint", "SIPEvents", "SIPTransport", "SIPCore", "SIPSyntax", "Overlay", "OverlaySIP", nioCore, nioPosix, logging],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SurveillanceTests", dependencies: ["Surveillance", "Rules", "Presence", "ServicePlatform", "Composition", logging], swiftSettings: swiftSettings),
        .testTarget(name: "ControlChannelTests", dependencies: ["ControlChannel", nioCore, nioPosix, logging], swiftSettings: swiftSettings),
        .testTarget(name: "XMLSupportTests", dependencies: ["XMLSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "SIPEndpoint", "Overlay", "Community", "ServicePlatform", "Surveillance", "SIPEvents", "SIPTransport", "SIPSyntax", grdb, logging], swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["SMFNode", "ControlChannel", "Presence", "SIPEndpoint", "Storage", "Overlay", "OverlaySIP", "Community", "Composition", "ServicePlatform", "Surveillance", "Energy", "SIPTransport", "SIPCore", "SIPSyntax", nioCore, nioPosix, logging],
            exclude: ["sipp", "kamailio", "baresip"],
            swiftSettings: swiftSettings
        ),
    ]
)
