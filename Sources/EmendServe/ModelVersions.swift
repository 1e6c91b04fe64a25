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
    /// Which publication this is: a version number comes back after a rollback, this never does (-1: the base
    /// model kept for comparisons).
    public var serial: Int = 0
}

/// The current version (swapped atomically by the writer) and the base model (version 0, for comparisons).
public final class ModelVersions: @unchecked Sendable {
    private let lock = NSLock()
    private var _current: ServedModel
    public let base: ServedModel

    private var published = 0

    public init(base: LoadedModel, current: ServedModel) {
        self.base = ServedModel(version: 0, loaded: base, serial: -1)
        self._current = current
        self._current.serial = 0
    }

    public var current: ServedModel {
        lock.lock(); defer { lock.unlock() }
        return _current
    }

    /// Makes `model` the version new requests get; requests already running keep theirs.
    func publish(_ model: ServedModel) {
        lock.lock(); defer { lock.unlock() }
        published += 1
        _current = model
        _current.serial = published
    }
}
