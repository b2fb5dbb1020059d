// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package (as in swift-nio) so that the root package's build and tests
// never compile them. Build: swift build -c release --package-path Benchmarks --scratch-path Benchmarks/.build

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What both executables use: the node's SIP and storage modules and the heap-statistics shim.
let nodeDependencies: [Target.Dependency] = [
    "CBenchSupport",
    .product(name: "SIPSyntax", package: "smf"),
    .product(name: "SIPCore", package: "smf"),
    .product(name: "SIPTransport", package: "smf"),
    .product(name: "SIPEvents", package: "smf"),
    .product(name: "SIPEndpoint", package: "smf"),
    .product(name: "Storage", package: "smf"),
    .product(name: "Logging", package: "swift-log"),
]

let package = Package(
    name: "smf-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "smf", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // MARK: - Targets

        .target(name: "CBenchSupport"),
        .executableTarget(
            name: "smf-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OverlaySimulation", package: "smf"),
                .product(name: "Energy", package: "smf"),
                .product(name: "Surveillance", package: "smf"),
            ] + nodeDependencies,
            swiftSettings: swiftSettings
        ),
        // The notifier node of `sip.subscription_bytes` and `sip.notify_fanout`, in its own process
        // so that its resident memory is the node's alone.
        .executableTarget(
            name: "smf-bench-notifier",
            dependencies: nodeDependencies,
            swiftSettings: swiftSettings
        ),
    ]
)
