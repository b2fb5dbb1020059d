// swift-tools-version:6.1
import PackageDescription

// libFuzzer target for the SIP parser, in its own package so the root build never sees the fuzzer
// flags. Build and run with scripts/fuzz.sh, which uses:
//   swift build -c debug --package-path Fuzz --scratch-path Fuzz/.build \
//     --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
// (SwiftPM's --sanitize=fuzzer lets libFuzzer provide `main`; the -Xswiftc flag is what actually
// instruments every module for coverage and ASan on Swift 6.3 Linux.)

let package = Package(
    name: "smf-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "smf", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "sip-parser-fuzz",
            dependencies: [
                .product(name: "SIPSyntax", package: "smf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ]
)
