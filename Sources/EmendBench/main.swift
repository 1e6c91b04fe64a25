// EmendBench: `make bench`. Prints the machine, then one table per benchmark group.
// To add a group, write `run<Group>Benchmarks()` in its own file (see CoreBenchmarks.swift) and
// call it below. Arguments pick groups by name (`EmendBench models`); none runs them all.

let groups = Set(CommandLine.arguments.dropFirst())
printMachineInfo()
if groups.isEmpty || groups.contains("core") { runCoreBenchmarks() }
if groups.isEmpty || groups.contains("models") { runModelBenchmarks() }
if groups.isEmpty || groups.contains("edit") { runEditBenchmarks() }
if groups.isEmpty || groups.contains("stats") { runStatisticsBenchmark() }
if groups.isEmpty || groups.contains("quant") { runQuantizeBenchmarks() }
if groups.isEmpty || groups.contains("weights") { runWeightBenchmarks() }
// Not in the default set: ~13 GB and minutes at F = 14,336 (StateBenchmarks.swift).
if groups.contains("state") { runStateBenchmark() }
