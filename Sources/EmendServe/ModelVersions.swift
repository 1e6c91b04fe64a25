// The model versions the server answers with. Generation reads `current` once, at the start of a request, and
// keeps that value (a copy-on-write snapshot of the weights) to its last token; the writer publishes a new version
// only after its batch committed. So every response comes from exactly one version, and an edit is never visible
// before it is durable.

import EmendModels
import Foundation

/// One servable version of the model.
public struct ServedModel: Sendable {
    /// The store version (0: the base model).
    public var version: Int
    public var loaded: LoadedModel
}

/// The current version (swapped atomically by the writer) and the base model (version 0, for comparisons).
public final class ModelVersions: @unchecked Sendable {
    private let lock = NSLock()
    private var _current: ServedModel
    public let base: ServedModel

    public init(base: LoadedModel, current: ServedModel) {
        self.base = ServedModel(version: 0, loaded: base)
        self._current = current
    }

    public var current: ServedModel {
        lock.lock(); defer { lock.unlock() }
        return _current
    }

    /// Makes `model` the version new requests get; requests already running keep theirs.
    func publish(_ model: ServedModel) {
        lock.lock(); defer { lock.unlock() }
        _current = model
    }
}
