// `emend train`: meta-train a MEND or MALMEN editor for a model, resumable, with validation lines.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

extension HyperNetworkMethod: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Meta-train a hyper-network editor (MALMEN or MEND) for a model; re-running with the same --out resumes.",
        discussion: """
        Examples:
          emend train --method malmen --model smollm2 --train zsre_train.json \\
            --steps 200 --out editors/malmen
          emend train --method mend --train a.json,b.json --steps 40 \\
            --facts-per-step 32 --out editors/mend
        """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "malmen or mend.") var method: HyperNetworkMethod = .malmen
    @Option(help: "Training facts: comma-separated JSON files (zsRE MEND form, EasyEdit CounterFact, KnowEdit).") var train: String
    @Option(help: "Validation facts (default: the last `validationFacts` training facts are held out).") var validation: String?
    @Option(help: "Training steps (each edits --facts-per-step facts at once).") var steps = 200
    @Option(name: .customLong("facts-per-step"), help: "Facts edited at once per step (default: the preset's).") var factsPerStep: Int?
    @Option(help: "A hyper-network preset name or .json file (default: the model's, else the last 6 down-projections).") var preset: String?
    @Option(help: "Override the network's rank R.") var rank: Int?
    @Option(name: .customLong("meta-lr"), help: "Override the meta learning rate.") var metaLR: Double?
    @Option(name: .customLong("validation-facts"), help: "Override the number of validation facts.") var validationFacts: Int?
    @Option(name: .customLong("validation-interval"), help: "Override the steps between validations.") var validationInterval: Int?
    @Option(help: "The editor folder to write (and resume from).") var out: String

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive") }
        if let f = factsPerStep, f <= 0 { throw ValidationError("--facts-per-step must be positive") }
    }

    func run() throws {
        let loaded = try LoadedModel.load(modelOption.model)
        let fingerprint = try loaded.source.fingerprint()
        let folder = URL(fileURLWithPath: out)
        var facts: [EditingFact] = []
        for f in train.split(separator: ",") {
            let (read, skipped) = try EditingFact.load(from: URL(fileURLWithPath: String(f)), skippingIncomplete: true)
            facts += read
            if skipped > 0 { note("\(f): \(skipped) records without a paraphrase/locality example left out") }
        }
        var trainer: HyperNetworkTrainer
        if let resumed = try HyperNetworkTrainer.resume(from: folder) {
            try resumed.editor.checkCompatible(with: loaded.model, fingerprint: fingerprint)
            guard resumed.editor.settings.method == method else {
                throw ValidationError("\(out) holds a \(resumed.editor.settings.method.rawValue) editor; use another --out for \(method.rawValue)")
            }
            try refuseChangedSettings(resumed.editor.settings)
            trainer = resumed
            note("resuming \(out) at step \(trainer.step)")
        } else {
            var s = try preset.map { try HyperNetworkSettings.preset($0, method: method) } ?? HyperNetworkSettings.defaults(for: loaded.model, method: method)
            if let v = factsPerStep { s.factsPerStep = v }
            if let v = rank { s.rank = v }
            if let v = metaLR { s.metaLearningRate = v }
            if let v = validationFacts { s.validationFacts = v }
            if let v = validationInterval { s.validationInterval = v }
            trainer = HyperNetworkTrainer(editor: try HyperNetworkEditor(settings: s, model: loaded.model, fingerprint: fingerprint))
        }
        let s = trainer.editor.settings
        var tokenized = facts.map { TokenizedFact($0, tokenizer: loaded.tokenizer) }
        var held: [TokenizedFact]
        if let v = validation {
            held = try EditingFact.load(from: URL(fileURLWithPath: v)).map { TokenizedFact($0, tokenizer: loaded.tokenizer) }
        } else {
            let k = min(s.validationFacts, tokenized.count / 5)
            held = Array(tokenized.suffix(k))
            tokenized.removeLast(k)
        }
        held = Array(held.prefix(s.validationFacts))
        note("\(s.method.rawValue): layers \(s.layers), rank \(s.rank), \(s.factsPerStep) facts/step, \(tokenized.count) training facts, \(held.count) validation facts, meta-lr \(s.metaLearningRate)")
        let bar = ProgressBar("train")
        var smoothed: Double?
        try HyperNetworkTraining.run(&trainer, model: loaded.model, train: tokenized, validation: held, steps: steps, folder: folder) { e in
            switch e {
            case let .step(step, total, r, sec):
                let l = r.generalizationLoss + s.localityWeight * r.localityLoss
                smoothed = smoothed.map { 0.9 * $0 + 0.1 * l } ?? l
                bar.update(step, total, detail: String(format: "loss %.3f (gen %.3f, loc %.4f), |g| %.3g, %.1fs/step", smoothed ?? l,
                                                       r.generalizationLoss, r.localityLoss, r.gradientNorm, sec))
            case let .validation(step, r, best):
                print(String(format: "validation @%d: ES %.3f  GS %.3f  LS %.3f  loss %.4f%@", step, r.editSuccess, r.generalizationSuccess,
                             r.localitySuccess, r.loss, best ? "  (best, saved)" : ""))
                fflush(nil)
            case let .stoppedEarly(step):
                print("stopped early at step \(step): no validation improvement in \(s.patience) validations")
            }
        }
        print("editor in \(out) (best validation loss \(String(format: "%.4f", trainer.bestLoss)))")
    }

    /// A resumed run keeps the settings it was started with; a flag given now that differs is refused (naming the
    /// flag and both values) rather than silently ignored. `--steps` may change: it is the total to train to.
    func refuseChangedSettings(_ r: HyperNetworkSettings) throws {
        var given: [(flag: String, now: String, then: String)] = []
        if let v = factsPerStep { given.append(("--facts-per-step", "\(v)", "\(r.factsPerStep)")) }
        if let v = rank { given.append(("--rank", "\(v)", "\(r.rank)")) }
        if let v = metaLR { given.append(("--meta-lr", "\(v)", "\(r.metaLearningRate)")) }
        if let v = validationFacts { given.append(("--validation-facts", "\(v)", "\(r.validationFacts)")) }
        if let v = validationInterval { given.append(("--validation-interval", "\(v)", "\(r.validationInterval)")) }
        if let p = preset { given.append(("--preset \(p): layers", "\(try HyperNetworkSettings.preset(p, method: method).layers)", "\(r.layers)")) }
        if let d = given.first(where: { $0.now != $0.then }) {
            throw ValidationError("\(out) was started with \(d.flag) \(d.then); this run asks for \(d.now). Resume with the same "
                                  + "settings (or leave the flag out), or train into another --out")
        }
    }
}
