// Elementwise functions of one Variable. Each backward is g · f′, fused into one pass over
// (g, saved) with `broadcastBinary`; f′ is written from whichever of x or y = f(x) is cheaper.

import Foundation

// MARK: - Forward and backward

extension Variable {
    /// eˣ. f′ = y.
    public func exp() -> Variable {
        let y = value.exp()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "exp", inputs: [self]) { g in [g * savedY] }
    }

    /// ln x. f′ = 1 / x.
    public func log() -> Variable {
        let y = value.log()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "log", inputs: [self]) { g in [g / savedX] }
    }

    /// tanh x. f′ = 1 − y².
    public func tanh() -> Variable {
        let y = value.tanh()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "tanh", inputs: [self]) { g in
            [broadcastBinary(g, savedY) { g, y in g * (1 - y * y) }]
        }
    }

    /// σ(x) = 1 / (1 + e^{−x}). f′ = y(1 − y).
    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "sigmoid", inputs: [self]) { g in
            [broadcastBinary(g, savedY) { g, y in g * y * (1 - y) }]
        }
    }

    /// SiLU x·σ(x). f′ = σ(x)(1 + x(1 − σ(x))).
    public func silu() -> Variable {
        let y = value.silu()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "silu", inputs: [self]) { g in
            [broadcastBinary(g, savedX) { g, x in g * siluDerivative(x) }]
        }
    }

    /// GELU, tanh approximation (GPT-2). f′ = `geluTanhDerivative`.
    public func geluTanh() -> Variable {
        let y = value.geluTanh()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "geluTanh", inputs: [self]) { g in
            [broadcastBinary(g, savedX) { g, x in g * geluTanhDerivative(x) }]
        }
    }

    /// GELU, exact erf form. f′ = Φ(x) + x·φ(x).
    public func geluErf() -> Variable {
        let y = value.geluErf()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "geluErf", inputs: [self]) { g in
            [broadcastBinary(g, savedX) { g, x in g * geluErfDerivative(x) }]
        }
    }

    /// √x. f′ = 1 / (2y).
    public func sqrt() -> Variable {
        let y = value.sqrt()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "sqrt", inputs: [self]) { g in
            [broadcastBinary(g, savedY) { g, y in 0.5 * g / y }]
        }
    }

    /// x². f′ = 2x.
    public func squared() -> Variable {
        let y = value.squared()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "square", inputs: [self]) { g in
            [broadcastBinary(g, savedX) { g, x in 2 * g * x }]
        }
    }

    /// max(x, 0). f′ = 1 where x > 0, else 0 (PyTorch's choice at 0).
    public func relu() -> Variable {
        let y = value.relu()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedX = value
        return tape.record(y, op: "relu", inputs: [self]) { g in
            [broadcastBinary(g, savedX) { g, x in x > 0 ? g : 0 }]
        }
    }
}
