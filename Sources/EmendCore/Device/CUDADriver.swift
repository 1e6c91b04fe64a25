// The CUDA driver, found at run time: `dlopen("libcuda.so.1")` and `dlsym` of the few entry points
// Emend uses, declared here as C function types. No CUDA header or toolkit is needed to build.
//
// Only discovery lives here (count devices, read their names, memory and compute capability). The
// GPU kernels, cuBLAS and NVRTC are the next layer of the GPU backend and are not built yet.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared library opened with `dlopen`, closed when the last reference goes.
public final class DynamicLibrary: @unchecked Sendable {
    /// The path or soname it was opened by.
    public let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `path` (an absolute path or a soname the dynamic linker searches for).
    public init(_ path: String) throws {
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw DeviceError.libraryNotFound(library: path, reason: reason)
        }
        self.path = path
        self.handle = h
    }

    deinit { dlclose(handle) }

    /// The symbol `name` cast to the C function type `T`.
    public func function<T>(_ name: String, as type: T.Type) throws -> T {
        guard let sym = dlsym(handle, name) else { throw DeviceError.missingSymbol(library: path, symbol: name) }
        return unsafeBitCast(sym, to: type)
    }

    /// Opens the first of `candidates` that loads; the error lists every path tried.
    public static func openFirst(_ candidates: [String]) throws -> DynamicLibrary {
        var reasons: [String] = []
        for c in candidates {
            do { return try DynamicLibrary(c) } catch let DeviceError.libraryNotFound(_, reason) { reasons.append(reason) }
        }
        throw DeviceError.libraryNotFound(library: candidates.joined(separator: ", "), reason: reasons.joined(separator: "; "))
    }
}

/// The CUDA driver API entry points Emend calls. `CUresult` is an `Int32` (0 = success) and a
/// `CUdevice` is an `Int32` ordinal, as in the driver API's documentation.
public final class CUDADriver: @unchecked Sendable {
    typealias InitFn = @convention(c) (UInt32) -> Int32
    typealias IntOutFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    typealias DeviceGetFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias DeviceNameFn = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Int32
    typealias DeviceMemFn = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Int32
    typealias DeviceAttributeFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Int32
    typealias ErrorStringFn = @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Int32

    /// `CU_DEVICE_ATTRIBUTE_*` values used here.
    enum Attribute: Int32 {
        case multiprocessorCount = 16
        case computeCapabilityMajor = 75
        case computeCapabilityMinor = 76
    }

    /// Where the driver is looked for: `$EMEND_CUDA_DRIVER` if set, else the soname, then the
    /// usual install locations.
    public static var defaultCandidates: [String] {
        if let p = ProcessInfo.processInfo.environment["EMEND_CUDA_DRIVER"], !p.isEmpty { return [p] }
        return ["libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
                "/usr/local/cuda/lib64/stubs/libcuda.so"]
    }

    public let library: DynamicLibrary
    private let cuInit: InitFn
    private let cuDriverGetVersion: IntOutFn
    private let cuDeviceGetCount: IntOutFn
    private let cuDeviceGet: DeviceGetFn
    private let cuDeviceGetName: DeviceNameFn
    private let cuDeviceTotalMem: DeviceMemFn
    private let cuDeviceGetAttribute: DeviceAttributeFn
    private let cuGetErrorString: ErrorStringFn?

    /// Loads the driver, resolves every entry point (a missing one is an error naming it) and
    /// calls `cuInit(0)`.
    public init(candidates: [String] = CUDADriver.defaultCandidates) throws {
        let lib = try DynamicLibrary.openFirst(candidates)
        library = lib
        cuInit = try lib.function("cuInit", as: InitFn.self)
        cuDriverGetVersion = try lib.function("cuDriverGetVersion", as: IntOutFn.self)
        cuDeviceGetCount = try lib.function("cuDeviceGetCount", as: IntOutFn.self)
        cuDeviceGet = try lib.function("cuDeviceGet", as: DeviceGetFn.self)
        cuDeviceGetName = try lib.function("cuDeviceGetName", as: DeviceNameFn.self)
        cuDeviceTotalMem = try lib.function("cuDeviceTotalMem_v2", as: DeviceMemFn.self)
        cuDeviceGetAttribute = try lib.function("cuDeviceGetAttribute", as: DeviceAttributeFn.self)
        cuGetErrorString = try? lib.function("cuGetErrorString", as: ErrorStringFn.self)
        try check(cuInit(0), "cuInit")
    }

    /// Throws `DeviceError.driverCall` when `result` is not `CUDA_SUCCESS`.
    func check(_ result: Int32, _ call: String) throws {
        guard result != 0 else { return }
        var text: UnsafePointer<CChar>? = nil
        if let f = cuGetErrorString, f(result, &text) == 0, let t = text {
            throw DeviceError.driverCall(call: call, code: result, message: String(cString: t))
        }
        throw DeviceError.driverCall(call: call, code: result, message: "")
    }

    /// The driver's CUDA version, e.g. 13000 for 13.0.
    public func driverVersion() throws -> Int {
        var v: Int32 = 0
        try check(cuDriverGetVersion(&v), "cuDriverGetVersion")
        return Int(v)
    }

    /// Every visible device, described.
    public func devices() throws -> [GPUDescription] {
        var count: Int32 = 0
        try check(cuDeviceGetCount(&count), "cuDeviceGetCount")
        return try (0..<count).map { ordinal in
            var dev: Int32 = 0
            try check(cuDeviceGet(&dev, ordinal), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(cuDeviceGetName(&name, Int32(name.count), dev), "cuDeviceGetName")
            var bytes = 0
            try check(cuDeviceTotalMem(&bytes, dev), "cuDeviceTotalMem_v2")
            func attribute(_ a: Attribute) throws -> Int {
                var v: Int32 = 0
                try check(cuDeviceGetAttribute(&v, a.rawValue, dev), "cuDeviceGetAttribute(\(a.rawValue))")
                return Int(v)
            }
            let nameString = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return GPUDescription(
                ordinal: Int(ordinal), name: nameString, memoryBytes: bytes,
                computeCapability: (try attribute(.computeCapabilityMajor), try attribute(.computeCapabilityMinor)),
                multiprocessors: try attribute(.multiprocessorCount))
        }
    }
}

/// One CUDA device as the driver reports it.
public struct GPUDescription: Sendable, Equatable {
    public var ordinal: Int
    public var name: String
    public var memoryBytes: Int
    public var computeCapability: (major: Int, minor: Int)
    public var multiprocessors: Int

    public static func == (a: GPUDescription, b: GPUDescription) -> Bool {
        a.ordinal == b.ordinal && a.name == b.name && a.memoryBytes == b.memoryBytes
            && a.computeCapability == b.computeCapability && a.multiprocessors == b.multiprocessors
    }
}
