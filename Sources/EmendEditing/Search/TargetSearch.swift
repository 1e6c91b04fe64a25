// Target search ("compute_z" in MEMIT and its descendants): for each request, a free vector δ added to the
// residual stream at the output of block `layer` (the last edited layer), at the subject's last token of every
// prompt of that request, optimised with Adam so that the model predicts the new target. z = h0 + δ is the
// value the update rules then write into the weights.
//
// Loss of request r (locate-then-edit spec §1.4, reproduced exactly):
//   L(δ) = NLL + klFactor · KL + weightDecay · ‖δ‖ / ‖h0‖²
//   NLL = mean over the rewrite prompts of the mean target-token NLL
//   KL  = KL(p_δ ‖ p_0) of the next-token distribution at the subject's last token of "{subject} is a"
//   h0  = the block-`layer` output at the subject's last token of the plain prompt (δ = 0)
// Where block `layer` passes its MLP output through a post-norm (Gemma), δ is added to that MLP output u before the
// norm instead (the row becomes residual + n(u0 + δ)), h0 reads u0 in the two terms above, and z is the block
// output that results: the update rules write u's change, so the search looks only where they can reach.
// Loop: forward → losses → stopping rule → (loss < 5e-2: stop) → (last iteration: stop) → backward → Adam →
// clamp ‖δ‖ ≤ clampNormFactor·‖h0‖. The last iteration never steps; the weight-decay term is the norm, not the
// squared norm (a MEMIT quirk every descendant inherits).
//
// Speed (exact, not in the reference code): positions before the subject's last token never change, so their
// keys/values are computed once (a frozen prefix cache); each step runs only the suffix rows through blocks
// layer+1 … L−1, and logits only at the rows that carry a label. Requests are batched: their rows share every
// matrix product, and requests that have stopped leave the batch.

import EmendCore
import EmendModels

/// When the search stops, besides the loss threshold and the step cap.
public enum StoppingRule: Sendable, Equatable, Codable {
    /// Run to the step cap (MEMIT, AlphaEdit).
    case fixedSteps
    /// ENCORE's most-probable early stopping: stop once the new target has been the top-1 prediction at every
    /// labelled position of every context-prefixed prompt on `extraSteps + 1` iterations (cumulative count).
    case mostProbable(extraSteps: Int)
}

/// Which positions MPES checks (spec §5.1).
public enum MPESCheck: String, Sendable, Codable {
    /// Every target token of every prefixed prompt (the v2 code: the intended rule).
    case allPositions
    /// `num_correct == 5` (the v1 code; exact only for single-token targets). Reproduction switch.
    case fiveCorrect
}

/// Hyper-parameters of the target search.
public struct TargetSearchSettings: Sendable, Equatable, Codable {
    /// The cap on forward passes per request (`v_num_grad_steps`).
    public var maxSteps: Int = 25
    public var learningRate: Double = 0.5
    public var clampNormFactor: Float = 0.75
    public var klFactor: Float = 0.0625
    public var weightDecay: Float = 0.5
    public var stopping: StoppingRule = .fixedSteps
    public var mpesCheck: MPESCheck = .allPositions
    /// Stop a request once its loss falls below this.
    public var lossThreshold: Float = 5e-2
    /// The precision of the search's matrix products with the blocks above the edit layer and the output head
    /// (Float32 accumulation either way). bfloat16 is about twice as fast where the CPU has it, and leaves
    /// the edits' quality where it was (README, "Speed"); presets that do not name it get `defaultPrecision`.
    public var precision: ComputePrecision = TargetSearchSettings.defaultPrecision

    public static let defaultPrecision = ComputePrecision.bfloat16

    public init(maxSteps: Int = 25, learningRate: Double = 0.5, clampNormFactor: Float = 0.75, klFactor: Float = 0.0625,
                weightDecay: Float = 0.5, stopping: StoppingRule = .fixedSteps, mpesCheck: MPESCheck = .allPositions,
                precision: ComputePrecision = TargetSearchSettings.defaultPrecision) {
        self.maxSteps = maxSteps; self.learningRate = learningRate; self.clampNormFactor = clampNormFactor
        self.klFactor = klFactor; self.weightDecay = weightDecay; self.stopping = stopping; self.mpesCheck = mpesCheck
        self.precision = precision
    }

    enum CodingKeys: String, CodingKey {
        case maxSteps, learningRate, clampNormFactor, klFactor, weightDecay, stopping, mpesCheck, lossThreshold, precision
    }

    /// Every field is required except `precision` (absent in presets written before it existed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxSteps = try c.decode(Int.self, forKey: .maxSteps)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        clampNormFactor = try c.decode(Float.self, forKey: .clampNormFactor)
        klFactor = try c.decode(Float.self, forKey: .klFactor)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        stopping = try c.decode(StoppingRule.self, forKey: .stopping)
        mpesCheck = try c.decode(MPESCheck.self, forKey: .mpesCheck)
        lossThreshold = try c.decode(Float.self, forKey: .lossThreshold)
        precision = try c.decodeIfPresent(ComputePrecision.self, forKey: .precision) ?? TargetSearchSettings.defaultPrecision
    }
}

/// The tokenized prompts of one request: rewrite prompts (plain first, then context-prefixed) and the KL prompt.
public struct SearchPrompts: Sendable, Equatable {
    /// Each: prompt ids + target ids without the last one.
    public var rewrite: [[Int]]
    /// The subject's last token in each rewrite prompt.
    public var rewriteLookup: [Int]
    /// "{subject} is a"
    public var kl: [Int]
    public var klLookup: Int
    /// The new target's ids.
    public var target: [Int]

    public init(rewrite: [[Int]], rewriteLookup: [Int], kl: [Int], klLookup: Int, target: [Int]) {
        self.rewrite = rewrite; self.rewriteLookup = rewriteLookup; self.kl = kl; self.klLookup = klLookup; self.target = target
    }

    /// The row (within rewrite prompt p) whose logits predict target token k.
    func labelPosition(_ p: Int, _ k: Int) -> Int { rewrite[p].count - target.count + k }
}

/// Where a running search is: reported once per iteration through `TargetSearch.progress`. A batch larger than
/// `requestsPerChunk` is searched chunk after chunk, and each chunk reports from step 1 again.
public struct TargetSearchProgress: Sendable, Equatable {
    /// Iterations done in this chunk (1-based).
    public var step: Int
    /// The cap on iterations (the search may stop earlier, when no request is still searching).
    public var maxSteps: Int
    /// Requests of this chunk still searching after this iteration.
    public var active: Int
    /// Requests in this chunk.
    public var requests: Int

    public init(step: Int, maxSteps: Int, active: Int, requests: Int) {
        self.step = step; self.maxSteps = maxSteps; self.active = active; self.requests = requests
    }
}

/// What the search found for each request.
public struct TargetSearchResult: Sendable {
    /// z = h0 + δ per request: [N, D]
    public var targets: Tensor
    /// h0 per request: [N, D]
    public var initial: Tensor
    /// Where block `layer` has an MLP post-norm: u0 + δ per request, the MLP output the search tried: [N, D]
    public var mlpTargets: Tensor? = nil
    /// Gradient steps taken per request.
    public var steps: [Int]
    /// Forward passes per request.
    public var forwardPasses: [Int]
    /// The loss at each forward pass, per request.
    public var losses: [[Float]]
    /// Per request, per forward pass: was the target top-1 at every checked position (the MPES condition)?
    public var mostProbableTrace: [[Bool]]
    /// Floating-point operations of the search's products with weight matrices (blocks above the edit layer and the
    /// output head, forward and backward), 2 per multiply-add: the numerator of its achieved GFLOP/s.
    public var matmulFLOPs: Double = 0
}
