// EmendBench: `make bench`. Prints the machine, then one table per benchmark group.
// To add a group, write `run<Group>Benchmarks()` in its own file (see CoreBenchmarks.swift) and
// call it below.

printMachineInfo()
runCoreBenchmarks()
