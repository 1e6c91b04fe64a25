// A content fingerprint of a model's files, for cache keys (statistics, context templates). FNV-1a over
// 64-bit words: fast on 100 MB and stable across runs; not a cryptographic hash.

import Foundation

extension ModelSource {
    /// 16 hex digits identifying the bytes of the model's files.
    public func fingerprint() throws -> String {
        var urls: [URL] = []
        switch self {
        case .gguf(let u): urls = [u]
        case .huggingFace(let dir):
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            urls = names.filter { $0.hasSuffix(".safetensors") || $0 == "config.json" }.sorted().map { dir.appendingPathComponent($0) }
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for u in urls {
            let data = try Data(contentsOf: u, options: .alwaysMapped)
            data.withUnsafeBytes { raw in
                let words = raw.count / 8
                for i in 0..<words { h = (h ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x0000_0100_0000_01B3 }
                for i in (words * 8)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x0000_0100_0000_01B3 }
            }
            h = (h ^ UInt64(data.count)) &* 0x0000_0100_0000_01B3
        }
        return String(format: "%016llx", h)
    }
}
