// `emend devices`: the CPU and any CUDA GPUs, with the CUDA libraries located.

import ArgumentParser
import EmendCore

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List the compute devices Emend can see (the CPU, and CUDA GPUs when a driver is present).",
        discussion: """
        Example:
          emend devices
        """)

    func run() throws {
        let inv = DeviceInventory.discover()
        print("cpu      \(inv.cpuThreads) threads (OpenBLAS)")
        if let problem = inv.gpuProblem {
            print("cuda     none: \(problem)")
        }
        if let v = inv.cudaDriverVersion { print("driver   CUDA \(v / 1000).\((v % 1000) / 10)") }
        for g in inv.gpus {
            let gib = Double(g.memoryBytes) / Double(1 << 30)
            print("cuda:\(g.ordinal)   \(g.name), \(String(format: "%.1f", gib)) GiB, compute \(g.computeCapability.major).\(g.computeCapability.minor), \(g.multiprocessors) SMs")
        }
        for l in inv.libraries {
            print("\(l.name.padding(toLength: 9, withPad: " ", startingAt: 0))\(l.path ?? "missing: \(l.problem ?? "")")")
        }
        if !inv.gpus.isEmpty {
            print("note     the GPU backend's kernels are not built yet: every command runs on the CPU")
        }
    }
}
