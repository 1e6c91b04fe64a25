// `EmendBench scale`: editing at the papers' scale on random weights of real shapes (no download): Llama-3.2-1B and
// Llama-3-8B in Q4_K_M and Q8_0, written once by `RandomModel` (as `emend init-model`) under
// $EMEND_HOME/cache/scale. Each model runs in a child process (`EmendBench scale-one FILE`) so its peak resident
// memory is its own; the child prints one JSON line and the parent prints the table.
//
// Per model: load (parse + map + checks), resident memory after load, prompt processing of 512 tokens, one-sequence
// generation, the C0 statistics from 100 corpus texts and the context templates (timed apart), a target search of
// 1 request, and ENCORE on 10 CounterFact records in one batch at a fixed 8 search steps (preset llama3-8b-encore:
// layers 4–8), the edited model's weight memory, the export to GGUF, and the peak resident memory of it all.
// EMEND_SCALE_MODELS picks models by name (comma-separated: 1b-q4_k_m, 1b-q8_0, 8b-q4_k_m, 8b-q8_0).
// Not in the default `make bench` set (the first run writes 14 GB of models; the 8B edit takes tens of minutes).

import EmendCore
import EmendEditing
import EmendModels
import EmendTestSupport
import Foundation

private let scaleModels: [(name: String, config: String, type: RandomModelType)] = [
    ("1b-q4_k_m", "llama-3.2-1b", .q4_k_m), ("1b-q8_0", "llama-3.2-1b", .q8_0),
    ("8b-q4_k_m", "llama-3-8b", .q4_k_m), ("8b-q8_0", "llama-3-8b", .q8_0),
]

func runScaleBenchmarks() {
    let picked = ProcessInfo.processInfo.environment["EMEND_SCALE_MODELS"].map { Set($0.split(separator: ",").map(String.init)) }
    let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs/models").standardized
    let folder = EmendPaths.cache.appendingPathComponent("scale")
    var table = BenchTable("Scale: random weights of real shapes, ENCORE 10 requests × 8 search steps, layers 4–8",
                           columns: ["model", "file GB", "load s", "RSS GB", "pp512 tok/s", "gen tok/s", "stats+ctx s",
                                     "search 1 req s/step", "search 10 req s/step", "ENCORE s/edit", "update s/layer",
                                     "export s", "weights after GB", "peak RSS GB"])
    for m in scaleModels where picked?.contains(m.name) ?? true {
        do {
            let url = folder.appendingPathComponent("\(m.config)-\(m.type.rawValue).gguf")
            if !FileManager.default.fileExists(atPath: url.path) {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                FileHandle.standardError.write("writing \(url.path) (once)\n".data(using: .utf8)!)
                let config = try ModelConfig(huggingFaceConfig: configs.appendingPathComponent("\(m.config).json"))
                try RandomModel.write(config: config, type: m.type, seed: 1, tokenizer: try GGUFFile(url: EmendPaths.defaultModel), to: url)
            }
            let r = try runChild(url)
            FileHandle.standardError.write("[scale] \(m.name): \(r)\n".data(using: .utf8)!)
            func g(_ k: String, _ d: Int = 2) -> String { (r[k] as? Double).map { fmt($0, d) } ?? "–" }
            table.add([m.name, g("fileGB"), g("loadSeconds"), g("rssAfterLoadGB"), g("prefillTokensPerSecond", 0),
                       g("generateTokensPerSecond", 1), g("setupSeconds", 0), g("searchOneSecondsPerStep", 1),
                       g("searchTenSecondsPerStep", 1), g("encoreSecondsPerEdit", 1), g("updateSecondsPerLayer", 1),
                       g("exportSeconds", 1), g("weightsAfterGB"), g("peakRSSGB")])
        } catch {
            table.add([m.name, "failed: \(error)"] + Array(repeating: "", count: 12))
        }
    }
    table.note("RSS: resident memory (VmRSS) after loading; peak: VmHWM of the child at the end (load, statistics, searches, edit, export).")
    table.note("Weights stay in the file's type, mapped from it; the edited ffn_down matrices become Float32 (weights after).")
    table.note("search s/step: search seconds over its forward passes (the last pass never steps), prefix pass included.")
    table.note("update s/layer: the batch's update time (keys, residuals, solve per layer) over its 5 layers.")
    table.print()
}

/// Runs `EmendBench scale-one url` and reads its JSON line.
private func runChild(_ url: URL) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = ["scale-one", url.path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
    guard p.terminationStatus == 0, let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw NSError(domain: "scale", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "exit \(p.terminationStatus)"])
    }
    return obj
}

/// The child: one model, every measurement, one JSON line on stdout (progress on stderr).
func runScaleOne(_ path: String) throws {
    func say(_ s: String) { FileHandle.standardError.write("[scale \(URL(fileURLWithPath: path).lastPathComponent)] \(s)\n".data(using: .utf8)!) }
    var r: [String: Double] = [:]
    let gb = 1e-9
    r["fileGB"] = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) * gb
    var t = Date()
    let loaded = try LoadedModel.load(path)
    r["loadSeconds"] = Date().timeIntervalSince(t)
    r["rssAfterLoadGB"] = Double(residentBytes()) * gb
    say(String(format: "loaded in %.1f s", r["loadSeconds"]!))

    let m = loaded.model
    var rng = SeededGenerator(seed: 3)
    let prompt = (0..<512).map { _ in Int(rng.next() % UInt64(m.config.vocabSize)) }
    t = Date()
    blackHole(m.lastLogits([prompt]))
    r["prefillTokensPerSecond"] = 512 / Date().timeIntervalSince(t)
    t = Date()
    blackHole(m.generate([Array(prompt.prefix(8))], maxTokens: 16))
    r["generateTokensPerSecond"] = 16 / Date().timeIntervalSince(t)
    say(String(format: "pp512 %.0f tok/s, generation %.1f tok/s", r["prefillTokensPerSecond"]!, r["generateTokensPerSecond"]!))

    // ENCORE at a fixed 8 steps (no early stop, no loss threshold), C0 from 100 texts.
    var preset = try EditPreset.named("llama3-8b-encore")
    preset.search.maxSteps = 8
    preset.search.stopping = .fixedSteps
    preset.search.lossThreshold = 0
    preset.statistics.sampleCount = 100
    let data = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
    let requests = Array(try EditRequest.load(from: data).prefix(10))
    t = Date()
    var editor = try EditingSession.makeEditor(loaded, preset: preset, corpus: EmendPaths.defaultCorpus)
    r["setupSeconds"] = Date().timeIntervalSince(t)
    say(String(format: "statistics and context templates in %.0f s", r["setupSeconds"]!))

    let one = TargetSearch(model: m, layer: preset.layers.last!, settings: { var s = preset.search; s.maxSteps = 3; return s }())
    t = Date()
    let found = one.run([editor.prompts.searchPrompts(requests[0])])
    r["searchOneSecondsPerStep"] = Date().timeIntervalSince(t) / Double(max(1, found.steps.first ?? 1))

    let report = try editor.apply(requests)
    r["searchTenSecondsPerStep"] = report.searchSeconds / Double(max(1, report.searchSteps.max() ?? 1))
    r["encoreSecondsPerEdit"] = (report.searchSeconds + report.updateSeconds) / Double(requests.count)
    r["updateSecondsPerLayer"] = report.updateSeconds / Double(preset.layers.count)
    say(String(format: "ENCORE %.1f s/edit (search %.0f s, update %.0f s)", r["encoreSecondsPerEdit"]!, report.searchSeconds, report.updateSeconds))

    let out = FileManager.default.temporaryDirectory.appendingPathComponent("emend-scale-\(getpid()).gguf")
    defer { try? FileManager.default.removeItem(at: out) }
    t = Date()
    try editor.model.export(to: out, format: .gguf)
    r["exportSeconds"] = Date().timeIntervalSince(t)
    r["weightsAfterGB"] = Double(editor.model.weights.matrixBytes) * gb
    r["peakRSSGB"] = Double(peakResidentBytes()) * gb
    let json = try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
