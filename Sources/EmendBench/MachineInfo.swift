// The machine the numbers were measured on: CPU, cores, and the threads each library uses.

import COpenBLAS
import EmendCore
import Foundation

func printMachineInfo() {
    var table = BenchTable("machine", columns: ["property", "value"])
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    table.add(["CPU", cpu ?? "unknown"])
    table.add(["active processors", "\(ProcessInfo.processInfo.activeProcessorCount)"])
    table.add(["Emend kernel threads", "\(emendThreadCount)"])
    table.add(["OpenBLAS threads", "\(openblas_get_num_threads())"])
    if let core = openblas_get_corename() { table.add(["OpenBLAS core", String(cString: core)]) }
    if let config = openblas_get_config() { table.add(["OpenBLAS config", String(cString: config)]) }
    let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
        .split(separator: " ").prefix(3).joined(separator: " ")
    table.add(["load average (1/5/15 min)", load ?? "unknown"])
    table.print()
}
