// swift-tools-version:6.0
// libFuzzer driver for Emend's parsers (`make fuzz`): one executable, the target chosen by EMEND_FUZZ_TARGET.
// Built with `-sanitize=fuzzer,address -parse-as-library` (scripts/fuzz.sh); a separate package so that the main
// one builds and tests without those flags.
import PackageDescription

let package = Package(
    name: "EmendFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Emend", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "EmendFuzz", dependencies: ["CFuzzerDriver", .product(name: "EmendFuzzTargets", package: "Emend")]),
    ]
)
