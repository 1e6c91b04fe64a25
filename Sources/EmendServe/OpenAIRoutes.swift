// GET /v1/models, POST /v1/completions, POST /v1/chat/completions: OpenAI's shapes, so existing clients work
// unchanged. Each answer names the version it came from: the `Emend-Version` header, `system_fingerprint`
// ("emend-v<k>") and `emend_version`. With "stream": true the answer is server-sent events, one per settled piece
// of text; the generating thread waits until the first event has been written before computing the next token.

import EmendModels
import Foundation
import Hummingbird

extension HTTPFields.Element.Name {
    static let emendVersion = Self("Emend-Version")!
}

extension EmendServer {
    func addOpenAIRoutes(_ router: Router<ServeContext>) {
        router.get("/v1/models") { _, context in
            _ = try context.authorize(.generate, limiter: self.limiter)
            let created = Int(self.started.timeIntervalSince1970)
            return jsonResponse(["object": "list", "data": [["id": self.modelID, "object": "model", "created": created, "owned_by": "emend"]]],
                                headers: [.emendVersion: "\(self.versions.current.version)"])
        }
        router.get("/v1/models/:id") { _, context in
            _ = try context.authorize(.generate, limiter: self.limiter)
            guard context.parameters.get("id") == self.modelID else { throw APIError.notFound("no model with that id; this server has \(self.modelID)") }
            return jsonResponse(["id": self.modelID, "object": "model", "created": Int(self.started.timeIntervalSince1970), "owned_by": "emend"])
        }
        router.post("/v1/completions") { request, context in
            try await self.complete(request, context: context, chat: false)
        }
        router.post("/v1/chat/completions") { request, context in
            try await self.complete(request, context: context, chat: true)
        }
    }

    /// Reads the body up to the size limit (413 beyond).
    func body(_ request: Request) async throws -> Data {
        var r = request
        do {
            let buffer = try await r.collectBody(upTo: limits.maxBodyBytes)
            return Data(buffer.readableBytesView)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw APIError.tooLarge("the request body is larger than \(limits.maxBodyBytes) bytes (this server's limit)")
        }
    }

    /// The prompt's token ids on `model`, checked against the limits.
    func promptIDs(_ input: CompletionRequest.Input, model: LoadedModel) throws -> [Int] {
        let ids: [Int], field: String
        switch input {
        case .text(let s):
            field = "prompt"
            ids = model.tokenizer.promptIDs(s)
            guard !s.isEmpty, !ids.isEmpty else { throw APIError.invalid("prompt", expected: "a non-empty text", got: "empty") }
        case .chat(let messages):
            field = "messages"
            guard let template = model.chatTemplate else {
                throw APIError(.badRequest, "this model has no chat template Emend can render (ChatML); use /v1/completions", param: "messages")
            }
            ids = ChatPrompt.ids(messages, template: template, tokenizer: model.tokenizer)
        }
        let limit = min(limits.maxPromptTokens, model.model.config.maxPositions - 1)
        guard ids.count <= limit else {
            throw APIError.tooLarge("the \(field) is \(ids.count) tokens; this server accepts at most \(limit)", param: field)
        }
        return ids
    }

    func complete(_ request: Request, context: ServeContext, chat: Bool) async throws -> Response {
        _ = try context.authorize(.generate, limiter: limiter)
        let data = try await body(request)
        let req = try CompletionRequest.parse(data, chat: chat, limits: limits)
        if let m = req.model, m != modelID { throw APIError(.notFound, "model '\(m.prefix(100))' does not exist; this server has '\(modelID)'", type: "invalid_request_error", param: "model", code: "model_not_found") }
        // One version from the first token to the last.
        let served = versions.current
        let ids = try promptIDs(req.input, model: served.loaded)
        let job = GenerationJob(promptIDs: ids, maxTokens: req.maxTokens,
                                options: SamplingOptions(temperature: req.temperature, topK: req.topK, seed: req.seed, topP: req.topP),
                                stops: req.stops)
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        var base: [String: Any] = ["id": id, "created": created, "model": modelID, "system_fingerprint": "emend-v\(served.version)",
                                   "emend_version": served.version]
        let headers: HTTPFields = [.emendVersion: "\(served.version)"]
        if !req.stream {
            let result = await scheduler.run(job, on: served)
            base["object"] = chat ? "chat.completion" : "text_completion"
            let choice: [String: Any] = chat
                ? ["index": 0, "message": ["role": "assistant", "content": result.text], "finish_reason": result.finishReason, "logprobs": NSNull()]
                : ["index": 0, "text": result.text, "finish_reason": result.finishReason, "logprobs": NSNull()]
            base["choices"] = [choice]
            base["usage"] = usage(result)
            return jsonResponse(base, headers: headers)
        }
        return stream(job, served: served, chat: chat, base: base, headers: headers, includeUsage: req.includeUsage)
    }

    func usage(_ r: GenerationResult) -> [String: Int] {
        ["prompt_tokens": r.promptTokens, "completion_tokens": r.completionTokens, "total_tokens": r.promptTokens + r.completionTokens]
    }

    /// Server-sent events: a chunk per piece of text, a last chunk with the finish reason, usage when asked, [DONE].
    func stream(_ job: GenerationJob, served: ServedModel, chat: Bool, base: [String: Any], headers: HTTPFields, includeUsage: Bool) -> Response {
        enum Event: Sendable { case text(String), done(GenerationResult) }
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let handshake = StreamHandshake()
        scheduler.submit(job, on: served, onText: { piece in
            if handshake.isCancelled { return false }
            continuation.yield(.text(piece))
            handshake.waitForFirstWrite()
            return !handshake.isCancelled
        }, done: { result in
            continuation.yield(.done(result))
            continuation.finish()
        })
        var chunkBase = base
        chunkBase["object"] = chat ? "chat.completion.chunk" : "text_completion"
        let frozen = SendableJSON(chunkBase)
        var h = headers
        h[.contentType] = "text/event-stream"
        h[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: h, body: ResponseBody { writer in
            func send(_ choice: [String: Any], usage: Any = NSNull(), choices: Bool = true) async throws {
                var chunk = frozen.value
                chunk["choices"] = choices ? [choice] : []
                if includeUsage { chunk["usage"] = usage }
                var bytes = Data("data: ".utf8)
                bytes.append(jsonData(chunk))
                bytes.append(Data("\n\n".utf8))
                try await writer.write(ByteBuffer(bytes: bytes))
            }
            do {
                if chat { try await send(["index": 0, "delta": ["role": "assistant", "content": ""], "finish_reason": NSNull(), "logprobs": NSNull()]) }
                for await event in events {
                    switch event {
                    case .text(let piece):
                        try await send(chat ? ["index": 0, "delta": ["content": piece], "finish_reason": NSNull(), "logprobs": NSNull()]
                                            : ["index": 0, "text": piece, "finish_reason": NSNull(), "logprobs": NSNull()])
                        handshake.firstWritten()
                    case .done(let result):
                        try await send(chat ? ["index": 0, "delta": [String: Any](), "finish_reason": result.finishReason, "logprobs": NSNull()]
                                            : ["index": 0, "text": "", "finish_reason": result.finishReason, "logprobs": NSNull()])
                        if includeUsage { try await send([:], usage: self.usage(result), choices: false) }
                    }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            } catch {
                handshake.cancel()
                throw error
            }
        })
    }
}

/// A dictionary handed to the body writer (built once, read only).
struct SendableJSON: @unchecked Sendable {
    let value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
}

/// Between the generating thread and the body writer: the first piece is written before the second token is
/// computed; a writer that fails (the client left) cancels the generation.
final class StreamHandshake: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var first = true
    private let written = DispatchSemaphore(value: 0)

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

    /// On the generating thread after each piece: blocks after the first one until it is written (or 10 s: a batch
    /// of several requests waits with it).
    func waitForFirstWrite() {
        lock.lock()
        let wait = first
        first = false
        lock.unlock()
        if wait { _ = written.wait(timeout: .now() + 10) }
    }

    func firstWritten() { written.signal() }

    func cancel() {
        lock.lock(); cancelled = true; lock.unlock()
        written.signal()
    }
}

/// The chat prompt as token ids: the template's markers are control tokens, the messages' text never is (a message
/// that contains "<|im_end|>" cannot end its turn early).
enum ChatPrompt {
    static func ids(_ messages: [ChatMessage], template: ChatTemplate, tokenizer: any Tokenizer) -> [Int] {
        var turns = messages
        if let first = turns.first, first.role != "system", let system = template.defaultSystemMessage {
            turns.insert(.system(system), at: 0)
        }
        var ids: [Int] = []
        for m in turns {
            ids += tokenizer.encode("<|im_start|>" + m.role + "\n", parseSpecial: true, continuing: false)
            ids += tokenizer.encode(m.content, parseSpecial: false, continuing: true)
            ids += tokenizer.encode("<|im_end|>\n", parseSpecial: true, continuing: true)
        }
        ids += tokenizer.encode("<|im_start|>assistant\n", parseSpecial: true, continuing: true)
        return tokenizer.withBOS(ids)
    }
}
