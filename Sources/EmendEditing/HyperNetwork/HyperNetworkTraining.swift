// The training loop around `HyperNetworkTrainer`: deterministic fact sampling (an epoch-wise seeded shuffle, so a
// resumed run draws the same facts), validation every `validationInterval` steps, the best editor kept in the output
// folder, resumable state in output/resume, early stopping after `patience` validations without improvement.

import EmendCore
import EmendModels
import Foundation

public enum HyperNetworkTrainingEvent: Sendable {
    case step(step: Int, of: Int, report: TrainingStepReport, seconds: Double)
    case validation(step: Int, report: ValidationReport, best: Bool)
    case stoppedEarly(step: Int)
}

public enum HyperNetworkTraining {
    /// The facts of step `step` (0-based): consecutive slices of a per-epoch seeded permutation.
    public static func factsForStep(_ step: Int, count: Int, total: Int, seed: UInt64) -> [Int] {
        guard total > 0 else { return [] }
        var out: [Int] = []
        var position = step * count
        while out.count < min(count, total) {
            let epoch = position / total
            var rng = SeededGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
            let perm = Array(0..<total).shuffled(using: &rng)
            out.append(perm[position % total])
            position += 1
        }
        return out
    }

    /// Trains until `steps` or early stopping; writes the best editor into `folder` and resumable state beneath it.
    public static func run(_ trainer: inout HyperNetworkTrainer, model: TransformerModel, train: [TokenizedFact],
                           validation: [TokenizedFact], steps: Int, folder: URL,
                           onEvent: (HyperNetworkTrainingEvent) -> Void) throws {
        let s = trainer.editor.settings
        func validate() throws {
            let r = try trainer.validate(model, facts: validation)
            let best = trainer.recordValidation(r.loss)
            if best { try trainer.editor.save(to: folder) }
            try trainer.saveState(to: folder)
            onEvent(.validation(step: trainer.step, report: r, best: best))
        }
        if trainer.step == 0 && !validation.isEmpty { try validate() }
        // A run that already stopped early stays stopped when the same command is run again.
        if trainer.shouldStop { onEvent(.stoppedEarly(step: trainer.step)); return }
        while trainer.step < steps {
            let idx = factsForStep(trainer.step, count: s.factsPerStep, total: train.count, seed: s.seed)
            let t0 = Date()
            let r = try trainer.trainStep(model, facts: idx.map { train[$0] })
            onEvent(.step(step: trainer.step, of: steps, report: r, seconds: Date().timeIntervalSince(t0)))
            if trainer.step % s.validationInterval == 0 || trainer.step == steps {
                if validation.isEmpty { try trainer.editor.save(to: folder); try trainer.saveState(to: folder) } else { try validate() }
                if trainer.shouldStop { onEvent(.stoppedEarly(step: trainer.step)); return }
            }
        }
    }
}
