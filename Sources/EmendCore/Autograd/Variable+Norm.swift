// RMSNorm and LayerNorm over the last axis as fused ops: one forward kernel that saves per-row
// statistics (`rstd`, `mean`), and VJPs that hand them to the backward kernels written beside the forwards
// (Tensor+Norm.swift, with their derivation).

// MARK: - Forward and backward

extension Variable {
    /// RMSNorm over the last axis (Llama): x·rsqrt(mean(x²) + eps)·weight.
    /// - self: [..., D]; weight: [D] → [..., D]
    public func rmsNormed(weight: Variable, eps: Float) -> Variable {
        let (y, rstd) = rmsNormForward(value, weight: weight.value, eps: eps)
        guard let tape = Tape.recording(self, weight) else { return Variable(constant: y) }
        let needX = requiresGrad, needW = weight.requiresGrad
        let savedX = value, savedW = weight.value
        return tape.record(y, op: "rmsNorm", inputs: [self, weight]) { g in
            [needX ? rmsNormBackward(g, x: savedX, weight: savedW, rstd: rstd) : nil,
             needW ? rmsNormWeightGradient(g, x: savedX, rstd: rstd) : nil]
        }
    }

    /// LayerNorm over the last axis (GPT-2): (x − mean)·rsqrt(var + eps)·weight + bias.
    /// - self: [..., D]; weight, bias: [D] → [..., D]
    public func layerNormed(weight: Variable, bias: Variable?, eps: Float) -> Variable {
        let (y, mean, rstd) = layerNormForward(value, weight: weight.value, bias: bias?.value, eps: eps)
        if !requiresGrad && !weight.requiresGrad && !(bias?.requiresGrad ?? false) { return Variable(constant: y) }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        guard let tape = Tape.recording(inputs) else { return Variable(constant: y) }
        let needX = requiresGrad, needW = weight.requiresGrad, needB = bias?.requiresGrad ?? false
        let hasBias = bias != nil
        let savedX = value, savedW = weight.value
        return tape.record(y, op: "layerNorm", inputs: inputs) { g in
            let params = needW || needB ? layerNormParameterGradients(g, x: savedX, mean: mean, rstd: rstd) : nil
            var grads: [Tensor?] = [needX ? layerNormBackward(g, x: savedX, weight: savedW, mean: mean, rstd: rstd) : nil,
                                    needW ? params?.dw : nil]
            if hasBias { grads.append(needB ? params?.db : nil) }
            return grads
        }
    }
}
