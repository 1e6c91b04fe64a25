// swift-tools-version:6.0
// Emend: knowledge editing for transformer language models, in Swift.
// Layers (arrows are the only allowed imports):
//   emend (CLI) -> EmendEval -> EmendEditing -> EmendModels -> EmendCore -> COpenBLAS, CEmendKernels
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
        // The parsers' fuzz targets, for the libFuzzer package in Fuzz/ (`make fuzz`) and the corpus replay test.
        .library(name: "EmendFuzzTargets", targets: ["EmendFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        .executableTarget(
            name: "emend",
            dependencies: ["EmendEval", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: - Implementation details
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"]), .brew(["openblas"])]),
        // oneDNN (Debian libdnnl-dev, loaded at run time): Float32 and bfloat16 matrix products, about twice and four
        // times OpenBLAS's speed here (`make bench`).
        .target(name: "CEmendKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast"])], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "EmendTestSupport", dependencies: ["EmendCore"], swiftSettings: optimise),
        .target(name: "EmendFuzzTargets", dependencies: ["EmendEditing"]),
        .executableTarget(name: "EmendBench", dependencies: ["EmendEval", "EmendTestSupport"], swiftSettings: optimise),

        // MARK: - Unit test bundles
        .testTarget(name: "EmendCoreTests", dependencies: ["EmendCore", "EmendTestSupport"]),
        .testTarget(name: "EmendModelsTests", dependencies: ["EmendModels", "EmendTestSupport"]),
        .testTarget(name: "EmendEditingTests", dependencies: ["EmendEditing", "EmendTestSupport"]),
        .testTarget(name: "EmendEvalTests", dependencies: ["EmendEval", "EmendTestSupport"]),
        .testTarget(name: "EmendFuzzTests", dependencies: ["EmendFuzzTargets", "EmendEditing", "EmendTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
