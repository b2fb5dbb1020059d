// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package (as in swift-nio) so that the root package's build and tests
// never compile them. Build: swift build -c release --package-path Benchmarks --scratch-path Benchmarks/.build

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "smf-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "smf", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "smf-bench",
            dependencies: [
                .product(name: "SIPSyntax", package: "smf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        )
    ]
)
