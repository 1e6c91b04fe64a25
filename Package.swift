// swift-tools-version:6.0
// Emend: knowledge editing for transformer language models, in Swift.
// Layers (arrows are the only allowed imports):
//   emend (CLI) -> EmendEval -> EmendEditing -> EmendModels -> EmendCore -> COpenBLAS, CEmendKernels
//   emend (CLI) -> EmendServe -> EmendEditing  (EmendServe: the HTTP server of `emend serve`, on Hummingbird; the CLI
//                                              command only parses and starts it)
import PackageDescription

// Release builds keep bounds checks (-O, not -Ounchecked): bad input must trap or throw, never read past a buffer.
let optimise: [SwiftSetting] = []

let package = Package(
    name: "Emend",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "emend", targets: ["emend"]),
        .library(name: "EmendCore", targets: ["EmendCore"]),
        .library(name: "EmendModels", targets: ["EmendModels"]),
        .library(name: "EmendEditing", targets: ["EmendEditing"]),
        .library(name: "EmendEval", targets: ["EmendEval"]),
        .library(name: "EmendServe", targets: ["EmendServe"]),
        // The parsers' fuzz targets, for the libFuzzer package in Fuzz/ (`make fuzz`) and the corpus replay test.
        .library(name: "EmendFuzzTargets", targets: ["EmendFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: - Public API
        .target(name: "EmendCore", dependencies: ["COpenBLAS", "CEmendKernels"], exclude: ["README.md"], swiftSettings: optimise),
        .target(
            name: "EmendModels",
            dependencies: ["EmendCore", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["README.md"], swiftSettings: optimise),
        .target(
            name: "EmendEditing",
            dependencies: [
                "EmendModels",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["README.md"], resources: [.copy("Presets")], swiftSettings: optimise),
        .target(name: "EmendEval", dependencies: ["EmendEditing"], exclude: ["README.md"], swiftSettings: optimise),
        .target(
            name: "EmendServe",
            dependencies: [
                "EmendEditing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["README.md"], swiftSettings: optimise),
        .executableTarget(
            name: "emend",
            dependencies: ["EmendServe", "EmendEval", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),

        // MARK: - Implementation details
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"]), .brew(["openblas"])]),
        // oneDNN (Debian libdnnl-dev, loaded at run time): Float32 and bfloat16 matrix products, about twice and four
        // times OpenBLAS's speed here (`make bench`).
        .target(name: "CEmendKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast-honor-pragmas"])], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "EmendTestSupport", dependencies: ["EmendCore"], swiftSettings: optimise),
        // The tiny random-weight model file (and its preset, corpus and requests) of the store, CLI and server tests.
        .target(name: "EmendModelTestSupport", dependencies: ["EmendModels", "EmendTestSupport"], swiftSettings: optimise),
        .target(name: "EmendFuzzTargets", dependencies: ["EmendEditing"]),
        .executableTarget(name: "EmendBench", dependencies: ["EmendEval", "EmendTestSupport"], swiftSettings: optimise),

        // MARK: - Unit test bundles
        .testTarget(name: "EmendCoreTests", dependencies: ["EmendCore", "EmendTestSupport"]),
        // Fixtures/ holds the quantizer and dequantizer fixtures (scripts/make-quant-fixtures.py), read through #filePath.
        .testTarget(name: "EmendModelsTests", dependencies: ["EmendModels", "EmendTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EmendEditingTests", dependencies: ["EmendEditing", "EmendTestSupport", "EmendModelTestSupport"]),
        .testTarget(name: "EmendEvalTests", dependencies: ["EmendEval", "EmendTestSupport"]),
        .testTarget(
            name: "EmendServeTests",
            dependencies: ["EmendServe", "EmendEditing", "EmendTestSupport", "EmendModelTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "EmendFuzzTests", dependencies: ["EmendFuzzTargets", "EmendEditing", "EmendTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
