// Variable: a Tensor value, plus (when it requires grad) the tape and node that produced it.
//
// A constant Variable is just its Tensor: ops on constants call the Tensor kernel and record
// nothing, so inference code written against Variable costs what the Tensor code would.

/// A value in a differentiable computation (see `Tape` for the whole API and an example).
public struct Variable: Sendable, CustomStringConvertible {
    /// The forward value.
    public let value: Tensor
    /// The tape that records ops on this value; `nil` for constants (no gradient flows to them).
    public let tape: Tape?
    /// This value's node on `tape`; −1 for constants.
    let id: Int

    /// A constant: ops on it record nothing, and it gets no gradient.
    @inline(__always)
    public init(constant value: Tensor) {
        self.value = value
        self.tape = nil
        self.id = -1
    }

    init(value: Tensor, tape: Tape, id: Int) {
        self.value = value
        self.tape = tape
        self.id = id
    }

    /// Whether a gradient flows to this value (it is a tape parameter or depends on one).
    @inline(__always) public var requiresGrad: Bool { tape != nil }

    /// The same value as a constant: gradient stops here (PyTorch's `detach()`).
    public var detached: Variable { Variable(constant: value) }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    public var count: Int { value.count }
    /// The extent of `axis`; negative axes count from the end.
    public func dim(_ axis: Int) -> Int { value.dim(axis) }

    public var description: String {
        "Variable(\(value)\(requiresGrad ? ", requiresGrad" : ""))"
    }
}

extension Tensor {
    /// This tensor as a constant `Variable`.
    public var constant: Variable { Variable(constant: self) }
}
