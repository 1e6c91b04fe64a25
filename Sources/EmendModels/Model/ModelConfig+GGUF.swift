// Model hyper-parameters from GGUF metadata: `general.architecture` picks the family, which reads its
// `{arch}.block_count`, `{arch}.embedding_length`, … (Families/).

import EmendCore
import Foundation

// MARK: - From GGUF metadata

extension ModelConfig {
    /// Reads the config from GGUF metadata through the family of `general.architecture`, then validates it.
    public init(gguf: GGUFFile) throws {
        let file = gguf.url.path
        guard let arch = gguf.metadata["general.architecture"]?.string else {
            throw EmendModelsError.metadataKeyMissing(file: file, key: "general.architecture")
        }
        let family = try ModelFamily.of(arch, file: file)
        self = try family.ggufConfig(GGUFConfigKeys(file: gguf, architecture: arch))
        try validate(source: file)
    }
}
