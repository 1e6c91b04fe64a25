import Foundation

// EmendBench: `make bench`. Prints the machine, then one table per benchmark group.
// To add a group, write `run<Group>Benchmarks()` in its own file (see CoreBenchmarks.swift) and
// call it below. Arguments pick groups by name (`EmendBench models`); none runs them all.

let groups = Set(CommandLine.arguments.dropFirst())
// The scale group's child process: one model, one JSON line (ScaleBenchmarks.swift).
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "scale-one" {
    do { try runScaleOne(CommandLine.arguments[2]); exit(0) } catch { FileHandle.standardError.write("\(error)\n".data(using: .utf8)!); exit(1) }
}
printMachineInfo()
if groups.isEmpty || groups.contains("core") { runCoreBenchmarks() }
if groups.isEmpty || groups.contains("models") { runModelBenchmarks() }
if groups.isEmpty || groups.contains("edit") { runEditBenchmarks() }
if groups.isEmpty || groups.contains("stats") { runStatisticsBenchmark() }
if groups.isEmpty || groups.contains("quant") { runQuantizeBenchmarks() }
if groups.isEmpty || groups.contains("weights") { runWeightBenchmarks() }
// Opt-in (not in the default set): minutes to hours, and 14 GB of random models written on first use.
if groups.contains("scale") { runScaleBenchmarks() }
// Not in the default set: ~13 GB and minutes at F = 14,336 (StateBenchmarks.swift).
if groups.contains("state") { runStateBenchmark() }
