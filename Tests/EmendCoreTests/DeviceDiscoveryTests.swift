// Device discovery without a GPU: the run-time loading mechanism and its error paths.
// Independent checks: a libm function called through dlsym returns the closed-form value; the
// errors name the path or symbol that was asked for.

import EmendCore
import XCTest

final class DeviceDiscoveryTests: XCTestCase {
    /// dlsym + a C function type give the real function: cos(0) = 1 and cos(π) = -1.
    func testDynamicLibrary_ResolvesAndCallsAFunction() throws {
        let libm = try DynamicLibrary.openFirst(["libm.so.6", "/usr/lib/libSystem.B.dylib"])
        typealias Cos = @convention(c) (Double) -> Double
        let cos = try libm.function("cos", as: Cos.self)
        XCTAssertEqual(cos(0), 1, accuracy: 1e-15)
        XCTAssertEqual(cos(Double.pi), -1, accuracy: 1e-15)
    }

    func testDriverMissing_ErrorNamesEveryPathTried() {
        let paths = ["/nonexistent/libcuda.so.1", "/also/missing/libcuda.so"]
        XCTAssertThrowsError(try CUDADriver(candidates: paths)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(paths[0]) && text.contains(paths[1]), text)
            XCTAssertTrue(text.contains("EMEND_CUDA_DRIVER"), "the hint names the override: \(text)")
        }
        let inv = DeviceInventory.discover(driverCandidates: paths)
        XCTAssertTrue(inv.gpus.isEmpty)
        XCTAssertGreaterThanOrEqual(inv.cpuThreads, 1)
        XCTAssertTrue(inv.gpuProblem?.contains(paths[0]) ?? false)
        XCTAssertTrue(inv.libraries.isEmpty, "CUDA libraries are only looked for when a driver loaded")
    }

    /// A library that loads but is not the driver (libm) is refused, naming the first missing symbol.
    func testWrongLibrary_ErrorNamesTheMissingSymbol() {
        XCTAssertThrowsError(try CUDADriver(candidates: ["libm.so.6"])) { error in
            guard case let DeviceError.missingSymbol(lib, sym) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(lib, "libm.so.6")
            XCTAssertEqual(sym, "cuInit")
        }
    }

    /// On a machine with an NVIDIA driver, the driver reports at least one device with sane fields.
    func testRealDriver_WhenPresent() throws {
        guard let driver = try? CUDADriver() else {
            throw XCTSkip("no CUDA driver on this machine: GPU discovery checked only on a GPU machine")
        }
        let devices = try driver.devices()
        XCTAssertFalse(devices.isEmpty)
        for d in devices {
            XCTAssertFalse(d.name.isEmpty)
            XCTAssertGreaterThan(d.memoryBytes, 0)
            XCTAssertGreaterThanOrEqual(d.computeCapability.major, 3)
        }
        XCTAssertGreaterThan(try driver.driverVersion(), 0)
    }
}
