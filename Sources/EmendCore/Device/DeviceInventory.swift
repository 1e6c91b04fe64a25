// What compute devices this machine offers: the CPU (always) and CUDA GPUs when the driver loads,
// with the CUDA libraries the GPU backend will need (cuBLAS, cuBLASLt, NVRTC, cuSOLVER) located.
//
// Nothing here needs a GPU to run: without a driver the inventory says why there is no GPU.

import Foundation

/// A CUDA library the GPU backend uses, and where it was found.
public struct CUDALibraryStatus: Sendable, Equatable {
    /// Short name, e.g. "cuBLAS".
    public var name: String
    /// The path that loaded, or nil.
    public var path: String?
    /// Why it did not load (every path tried), when it did not.
    public var problem: String?
}

/// The devices present, as `emend devices` prints them.
public struct DeviceInventory: Sendable {
    /// CPU cores Emend's kernels use.
    public var cpuThreads: Int
    /// The CUDA driver version (e.g. 13000), when the driver loaded.
    public var cudaDriverVersion: Int?
    /// GPUs the driver reports.
    public var gpus: [GPUDescription]
    /// Why there is no GPU, when there is none (driver missing, `cuInit` failed, …).
    public var gpuProblem: String?
    /// The CUDA libraries, found or not (only looked for when a driver loaded).
    public var libraries: [CUDALibraryStatus]

    /// Folders searched for the CUDA libraries: `$EMEND_CUDA_LIB_DIR` (colon-separated) first,
    /// then the usual toolkit locations.
    public static var libraryFolders: [String] {
        var dirs: [String] = []
        if let e = ProcessInfo.processInfo.environment["EMEND_CUDA_LIB_DIR"], !e.isEmpty {
            dirs += e.split(separator: ":").map(String.init)
        }
        dirs += ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                 "/usr/local/cuda-13.0/targets/x86_64-linux/lib", "/usr/local/cuda-12/targets/x86_64-linux/lib"]
        return dirs
    }

    /// (short name, sonames to try in order).
    static let wantedLibraries: [(String, [String])] = [
        ("cuBLAS", ["libcublas.so.13", "libcublas.so.12"]),
        ("cuBLASLt", ["libcublasLt.so.13", "libcublasLt.so.12"]),
        ("NVRTC", ["libnvrtc.so.13", "libnvrtc.so.12"]),
        ("cuSOLVER", ["libcusolver.so.12", "libcusolver.so.11"]),
    ]

    /// Looks at the machine. `driverCandidates` overrides where the driver is looked for.
    public static func discover(driverCandidates: [String] = CUDADriver.defaultCandidates) -> DeviceInventory {
        var inv = DeviceInventory(cpuThreads: emendThreadCount, cudaDriverVersion: nil, gpus: [], gpuProblem: nil, libraries: [])
        do {
            let driver = try CUDADriver(candidates: driverCandidates)
            inv.cudaDriverVersion = try driver.driverVersion()
            inv.gpus = try driver.devices()
            if inv.gpus.isEmpty { inv.gpuProblem = "the CUDA driver loaded but reports no devices" }
            inv.libraries = wantedLibraries.map { name, sonames in
                let candidates = libraryFolders.flatMap { d in sonames.map { "\(d)/\($0)" } } + sonames
                do {
                    let lib = try DynamicLibrary.openFirst(candidates)
                    return CUDALibraryStatus(name: name, path: lib.path, problem: nil)
                } catch {
                    return CUDALibraryStatus(name: name, path: nil, problem: "\(error)")
                }
            }
        } catch {
            inv.gpuProblem = "\(error)"
        }
        return inv
    }
}

/// Errors from device discovery: what was looked for, where, and what went wrong.
public enum DeviceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `dlopen` failed for every path tried.
    case libraryNotFound(library: String, reason: String)
    /// The library loaded but lacks a symbol Emend needs (wrong library or too old a version).
    case missingSymbol(library: String, symbol: String)
    /// A driver call returned an error code.
    case driverCall(call: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case let .libraryNotFound(lib, reason):
            return "could not load \(lib): \(reason); hint: install the NVIDIA driver, or point EMEND_CUDA_DRIVER (the driver) or EMEND_CUDA_LIB_DIR (the CUDA libraries) at them"
        case let .missingSymbol(lib, sym):
            return "\(lib) has no symbol \(sym): not the expected library, or too old a version"
        case let .driverCall(call, code, message):
            return "\(call) failed with CUDA error \(code)\(message.isEmpty ? "" : " (\(message))")"
        }
    }
}
