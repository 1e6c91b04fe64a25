// libFuzzer's entry point: each input goes to the parser named by EMEND_FUZZ_TARGET (see FuzzTarget).
// SwiftPM links an executable with main=EmendFuzz_main, so this is main: it hands over to libFuzzer's driver.

import CFuzzerDriver
import EmendFuzzTargets
import Foundation

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["EMEND_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("EMEND_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'\n".utf8))
        exit(64)
    }
    return t
}()

@_cdecl("EmendFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = target
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target.run(data.map { Data(bytes: $0, count: size) } ?? Data())
        return 0
    }
}
