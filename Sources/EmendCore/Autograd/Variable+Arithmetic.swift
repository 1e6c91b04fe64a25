// Elementwise arithmetic on Variables with NumPy broadcasting, and with Float scalars.
//
// Binary ops record `broadcasts: true`: their VJPs return gradients in the output's shape and the
// tape sums them down to each input's shape (`unbroadcast`), so no VJP here handles broadcasting.

// MARK: - Variable ∘ Variable

extension Variable {
    /// a + b, broadcast. ∂/∂a = g, ∂/∂b = g.
    public static func + (a: Variable, b: Variable) -> Variable {
        let y = a.value + b.value
        guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
        let needA = a.requiresGrad, needB = b.requiresGrad
        return tape.record(y, op: "add", inputs: [a, b], broadcasts: true) { g in
            [needA ? g : nil, needB ? g : nil]
        }
    }

    /// a − b, broadcast. ∂/∂a = g, ∂/∂b = −g.
    public static func - (a: Variable, b: Variable) -> Variable {
        let y = a.value - b.value
        guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
        let needA = a.requiresGrad, needB = b.requiresGrad
        return tape.record(y, op: "sub", inputs: [a, b], broadcasts: true) { g in
            [needA ? g : nil, needB ? -g : nil]
        }
    }

    /// a · b, broadcast. ∂/∂a = g·b, ∂/∂b = g·a.
    public static func * (a: Variable, b: Variable) -> Variable {
        let y = a.value * b.value
        guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
        let needA = a.requiresGrad, needB = b.requiresGrad
        let savedA = a.value, savedB = b.value
        return tape.record(y, op: "mul", inputs: [a, b], broadcasts: true) { g in
            [needA ? g * savedB : nil, needB ? g * savedA : nil]
        }
    }

    /// a / b, broadcast. ∂/∂a = g / b, ∂/∂b = −g·a / b² = −g·y / b.
    public static func / (a: Variable, b: Variable) -> Variable {
        let y = a.value / b.value
        guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
        let needA = a.requiresGrad, needB = b.requiresGrad
        let savedB = b.value, savedY = y
        return tape.record(y, op: "div", inputs: [a, b], broadcasts: true) { g in
            let gOverB = g / savedB
            return [needA ? gOverB : nil, needB ? -(gOverB * savedY) : nil]
        }
    }

    /// −a.
    public static prefix func - (a: Variable) -> Variable {
        let y = -a.value
        guard let tape = Tape.recording(a) else { return Variable(constant: y) }
        return tape.record(y, op: "neg", inputs: [a]) { g in [-g] }
    }
}

// MARK: - Variable ∘ Float

extension Variable {
    public static func + (a: Variable, s: Float) -> Variable {
        let y = a.value + s
        guard let tape = Tape.recording(a) else { return Variable(constant: y) }
        return tape.record(y, op: "addScalar", inputs: [a]) { g in [g] }
    }

    public static func + (s: Float, a: Variable) -> Variable { a + s }

    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }

    /// s − a.
    public static func - (s: Float, a: Variable) -> Variable {
        let y = a.value.map { s - $0 }
        guard let tape = Tape.recording(a) else { return Variable(constant: y) }
        return tape.record(y, op: "scalarSub", inputs: [a]) { g in [-g] }
    }

    public static func * (a: Variable, s: Float) -> Variable {
        let y = a.value * s
        guard let tape = Tape.recording(a) else { return Variable(constant: y) }
        return tape.record(y, op: "mulScalar", inputs: [a]) { g in [g * s] }
    }

    public static func * (s: Float, a: Variable) -> Variable { a * s }

    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }

    /// s / a. ∂/∂a = −g·s / a² = −g·y / a.
    public static func / (s: Float, a: Variable) -> Variable {
        let y = a.value.map { s / $0 }
        guard let tape = Tape.recording(a) else { return Variable(constant: y) }
        let savedA = a.value, savedY = y
        return tape.record(y, op: "scalarDiv", inputs: [a]) { g in [-(g * savedY / savedA)] }
    }
}

// MARK: - Selection and masks

extension Variable {
    /// `condition ? a : b` elementwise, all three broadcast together. The condition is a constant
    /// (nonzero means true); gradient flows to `a` where it holds and to `b` elsewhere.
    public static func `where`(_ condition: Tensor, _ a: Variable, _ b: Variable) -> Variable {
        let y = Tensor.where(condition, a.value, b.value)
        guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
        let needA = a.requiresGrad, needB = b.requiresGrad
        let mask = condition
        return tape.record(y, op: "where", inputs: [a, b], broadcasts: true) { g in
            let zero = Tensor(0)
            return [needA ? Tensor.where(mask, g, zero) : nil, needB ? Tensor.where(mask, zero, g) : nil]
        }
    }

    /// self + mask for a constant additive mask (0 where allowed, −∞ where not), broadcast.
    /// - self: e.g. attention scores [B, H, T, T]; mask: e.g. `causalMask` [T, T] → self's shape
    public func addingMask(_ mask: Tensor) -> Variable { self + Variable(constant: mask) }
}
