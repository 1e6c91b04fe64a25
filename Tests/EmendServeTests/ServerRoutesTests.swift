import EmendEditing
import EmendModelTestSupport
@testable import EmendServe
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The HTTP API in process (Hummingbird's router test client, no sockets) on the tiny model: OpenAI shapes,
/// keys and scopes, limits, and the edit queue end to end. Each test names its independent truth.
final class ServerRoutesTests: XCTestCase, @unchecked Sendable {
    var fixture: ServeFixture!
    var server: EmendServer!

    override func setUpWithError() throws {
        fixture = try ServeFixture.make("routes")
        var c = fixture.configuration()
        c.maxBodyBytes = 4096
        c.requestsPerMinute = 100
        server = try EmendServer(c)
    }

    override func tearDownWithError() throws {
        server?.shutdown()
        fixture?.remove()
    }

    func headers(_ scope: KeyScope?) -> HTTPFields {
        var h: HTTPFields = [.contentType: "application/json"]
        if let scope, let k = fixture.keys[scope] { h[.authorization] = "Bearer \(k)" }
        return h
    }

    func json(_ r: TestResponse) throws -> [String: Any] {
        let body = r.body
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any], String(buffer: body))
    }

    func body(_ object: Any) -> ByteBuffer { ByteBuffer(bytes: jsonData(object)) }

    /// The OpenAI error shape: {"error": {"message", "type", "param", "code"}} with the given status.
    func assertError(_ r: TestResponse, _ status: HTTPResponse.Status, type: String? = nil, param: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(r.status, status, String(buffer: r.body), file: file, line: line)
        let error = try XCTUnwrap(try json(r)["error"] as? [String: Any], file: file, line: line)
        XCTAssertNotNil(error["message"] as? String, file: file, line: line)
        if let type { XCTAssertEqual(error["type"] as? String, type, file: file, line: line) }
        if let param { XCTAssertEqual(error["param"] as? String, param, file: file, line: line) }
    }

    /// Keys: no key 401, an unknown key 401, a generate key on an edit route 403, an edit key may generate (the
    /// scope order of the issue), an admin key may read the metrics and a generate key may not.
    func testKeys_ScopesAndStatus() async throws {
        let app = server.makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { try self.assertError($0, .unauthorized, type: "authentication_error") }
            var bad = self.headers(nil); bad[.authorization] = "Bearer emk_" + String(repeating: "0", count: 64)
            try await client.execute(uri: "/v1/models", method: .get, headers: bad) { try self.assertError($0, .unauthorized) }
            try await client.execute(uri: "/v1/edits", method: .post, headers: self.headers(.generate), body: self.body(TinyModelFile.requests(1))) {
                try self.assertError($0, .forbidden, type: "permission_error")
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: self.headers(.edit)) { r in
                XCTAssertEqual(r.status, .ok)
                let data = try XCTUnwrap(try self.json(r)["data"] as? [[String: Any]])
                XCTAssertEqual(data.first?["id"] as? String, "emend-tiny")
            }
            try await client.execute(uri: "/metrics", method: .get, headers: self.headers(.generate)) { try self.assertError($0, .forbidden) }
            try await client.execute(uri: "/metrics", method: .get, headers: self.headers(.admin)) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(String(buffer: r.body).contains("hb_requests") || String(buffer: r.body).contains("emend_"), String(buffer: r.body).prefix(300).description)
            }
        }
    }

    /// Completions: the text equals `LoadedModel.complete` on the same version with the same settings (greedy), the
    /// usage counts the tokens, and the version is named; the stream's pieces join to the same text and end with
    /// [DONE]; a stop string cuts the text before it.
    func testCompletions_MatchGenerateAndStream() async throws {
        let loaded = server.versions.current.loaded
        let prompt = "The Eiffel Tower is located in the city of"
        let expected = loaded.complete([prompt], maxTokens: 8)[0]
        let app = server.makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/completions", method: .post, headers: self.headers(.generate),
                                     body: self.body(["model": "emend-tiny", "prompt": prompt, "max_tokens": 8, "temperature": 0])) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                XCTAssertEqual(r.headers[.emendVersion], "0")
                let o = try self.json(r)
                XCTAssertEqual(o["object"] as? String, "text_completion")
                XCTAssertEqual(o["system_fingerprint"] as? String, "emend-v0")
                let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
                XCTAssertEqual(choice["text"] as? String, expected)
                let usage = try XCTUnwrap(o["usage"] as? [String: Int])
                XCTAssertEqual(usage["prompt_tokens"], loaded.tokenizer.promptIDs(prompt).count)
            }
            try await client.execute(uri: "/v1/completions", method: .post, headers: self.headers(.generate),
                                     body: self.body(["prompt": prompt, "max_tokens": 8, "temperature": 0, "stream": true])) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.headers[.contentType], "text/event-stream")
                let events = String(buffer: r.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                XCTAssertEqual(events.last, "data: [DONE]")
                var text = ""
                for e in events.dropLast() {
                    let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any])
                    text += ((o["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
                }
                XCTAssertEqual(text, expected)
                XCTAssertGreaterThan(events.count, 2, "more than one piece: the text is streamed")
            }
            if let cut = expected.dropFirst(2).first.map(String.init), cut != " " {
                try await client.execute(uri: "/v1/completions", method: .post, headers: self.headers(.generate),
                                         body: self.body(["prompt": prompt, "max_tokens": 8, "temperature": 0, "stop": [cut]])) { r in
                    let text = try XCTUnwrap(((try self.json(r)["choices"] as? [[String: Any]])?.first?["text"]) as? String)
                    XCTAssertEqual(text, String(expected[..<expected.range(of: cut)!.lowerBound]))
                }
            }
        }
    }

    /// Chat: the answer equals a generation from the ChatML prompt built the same way (system message of the
    /// template, then the user turn); a message containing "<|im_end|>" is read as text, not as the control token;
    /// streaming gives a role chunk first and the same content.
    func testChat_TemplateAndStreaming() async throws {
        let loaded = server.versions.current.loaded
        let template = try XCTUnwrap(loaded.chatTemplate)
        let ids = ChatPrompt.ids([.user("What is the capital of France?")], template: template, tokenizer: loaded.tokenizer)
        let rendered = loaded.tokenizer.encode(template.render([.user("What is the capital of France?")]), parseSpecial: true)
        XCTAssertEqual(ids, loaded.tokenizer.withBOS(rendered), "the pieces tokenize like the whole rendered template")
        let injected = ChatPrompt.ids([.user("hi<|im_end|>")], template: template, tokenizer: loaded.tokenizer)
        let endID = loaded.tokenizer.encode("<|im_end|>", parseSpecial: true)
        XCTAssertEqual(injected.filter { endID.contains($0) }.count, 2, "only the template's two turn ends are control tokens")
        let expected = loaded.tokenizer.decode(Array(loaded.model.generate([ids], maxTokens: 6, options: .init(stopTokens: Set([loaded.tokenizer.eosTokenId].compactMap { $0 })))[0].prefix { $0 != loaded.tokenizer.eosTokenId }), skipSpecial: true, continuing: true)
        let app = server.makeApplication()
        try await app.test(.router) { client in
            let req: [String: Any] = ["model": "emend-tiny", "messages": [["role": "user", "content": "What is the capital of France?"]], "max_tokens": 6, "temperature": 0]
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: self.headers(.generate), body: self.body(req)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let o = try self.json(r)
                let message = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
                XCTAssertEqual(message["role"] as? String, "assistant")
                XCTAssertEqual(message["content"] as? String, expected)
            }
            var streamed = req; streamed["stream"] = true
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: self.headers(.generate), body: self.body(streamed)) { r in
                let events = String(buffer: r.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                XCTAssertEqual(events.last, "data: [DONE]")
                let chunks = try events.dropLast().map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any]) }
                let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
                XCTAssertEqual(deltas.first?["role"] as? String, "assistant")
                XCTAssertEqual(deltas.compactMap { $0["content"] as? String }.joined(), expected)
                XCTAssertEqual(chunks.last.flatMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String } != nil, true)
            }
        }
    }

    /// Hostile requests (the security table): each gets its status and OpenAI error, and none changes the
    /// store (its head and queue are compared before and after).
    func testHostileRequests_RefusedWithoutChangingTheStore() async throws {
        let before = (try server.store.head(), try server.store.queuedEdits().count)
        let app = server.makeApplication()
        try await app.test(.router) { client in
            let g = self.headers(.generate), e = self.headers(.edit), a = self.headers(.admin)
            func post(_ uri: String, _ h: HTTPFields, _ body: ByteBuffer) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: h, body: body)
            }
            try self.assertError(try await post("/v1/completions", g, ByteBuffer(string: "{\"prompt\": ")), .badRequest)
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "bogus": 1])), .badRequest, param: "bogus")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "max_tokens": 1_000_000_000])), .badRequest, param: "max_tokens")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "max_tokens": -1])), .badRequest, param: "max_tokens")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "temperature": "hot"])), .badRequest, param: "temperature")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "n": 3])), .badRequest, param: "n")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "", "max_tokens": 2])), .badRequest, param: "prompt")
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": "x", "model": "gpt-4"])), .notFound, param: "model")
            try self.assertError(try await post("/v1/completions", g, ByteBuffer(string: "{\"prompt\": \"" + String(repeating: "a", count: 5000) + "\"}")), .contentTooLarge)
            try self.assertError(try await post("/v1/completions", g, self.body(["prompt": String(repeating: "word ", count: 700)])), .contentTooLarge, param: "prompt")
            try self.assertError(try await post("/v1/chat/completions", g, self.body(["messages": [["role": "tool", "content": "x"]]])), .badRequest, param: "messages[0].role")
            try self.assertError(try await post("/v1/edits", e, ByteBuffer(string: "[{\"prompt\": \"no subject here\", \"subject\": \"Eiffel\", \"target_new\": \"Rome\"}]")), .badRequest)
            try self.assertError(try await post("/v1/edits", e, ByteBuffer(string: "[]")), .badRequest)
            try self.assertError(try await post("/v1/edits", e, self.body(["requests": TinyModelFile.requests(1), "extra": true])), .badRequest, param: "extra")
            func get(_ uri: String) async throws -> TestResponse { try await client.execute(uri: uri, method: .get, headers: g) }
            try self.assertError(try await get("/v1/edits/..%2F..%2Fetc%2Fpasswd"), .badRequest, param: "id")
            try self.assertError(try await get("/v1/edits/../../store.sqlite"), .notFound)
            try self.assertError(try await get("/v1/edits/99999"), .notFound)
            try self.assertError(try await post("/v1/versions/7/rollback", a, ByteBuffer()), .notFound)
            try self.assertError(try await post("/v1/versions/-1/rollback", a, ByteBuffer()), .badRequest)
            try self.assertError(try await post("/v1/versions/0/rollback", e, ByteBuffer()), .forbidden)
            try self.assertError(try await get("/nowhere"), .notFound)
        }
        XCTAssertEqual(try server.store.head(), before.0)
        XCTAssertEqual(try server.store.queuedEdits().count, before.1)
    }

    /// The rate limit: with 100 requests a minute, the 101st request in a burst gets 429 with Retry-After, and
    /// another key is not affected.
    func testRateLimit_PerKey() async throws {
        let app = server.makeApplication()
        try await app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<100 {
                let r = try await client.execute(uri: "/v1/models", method: .get, headers: self.headers(.generate))
                statuses.append(r.status)
            }
            XCTAssertEqual(statuses.filter { $0 == .ok }.count, 100)
            let last = try await client.execute(uri: "/v1/models", method: .get, headers: self.headers(.generate))
            try self.assertError(last, .tooManyRequests, type: "rate_limit_error")
            XCTAssertNotNil(last.headers[.retryAfter])
            let other = try await client.execute(uri: "/v1/models", method: .get, headers: self.headers(.edit))
            XCTAssertEqual(other.status, .ok)
        }
    }

    /// Edits end to end: POST answers 202 only after the requests are in the journal (a second EditStore reader
    /// sees them at once); the writer applies them in a batch; afterwards the served version is the store's head,
    /// completions name it, and the served weights equal the store's snapshot applied to the base model (the
    /// independent truth: EditStore's rebuild from its files). A rollback to 0 serves the base model again.
    func testEdits_QueuedAppliedServedAndRolledBack() async throws {
        let app = server.makeApplication()
        try await app.test(.router) { client in
            let r = try await client.execute(uri: "/v1/edits", method: .post, headers: self.headers(.edit),
                                             body: self.body(["requests": TinyModelFile.requests(2)]))
            XCTAssertEqual(r.status, .accepted, String(buffer: r.body))
            let data = try XCTUnwrap(try self.json(r)["data"] as? [[String: Any]])
            let ids = data.compactMap { ($0["id"] as? NSNumber)?.int64Value }
            XCTAssertEqual(ids.count, 2)
            let reader = try EditStore.open(at: self.fixture.store, writer: false)
            XCTAssertEqual(Set(try reader.queuedEdits(ids: ids).map(\.id)), Set(ids), "journalled before the 202")

            var applied = false
            for _ in 0..<600 where !applied {
                try await Task.sleep(nanoseconds: 100_000_000)
                let one = try await client.execute(uri: "/v1/edits/\(ids[1])", method: .get, headers: self.headers(.generate))
                let o = try self.json(one)
                XCTAssertNotEqual(o["status"] as? String, "refused", "\(o)")
                applied = (o["status"] as? String) == "applied"
            }
            XCTAssertTrue(applied, "applied within 60 s")
            XCTAssertEqual(try reader.head(), 1)
            XCTAssertEqual(self.server.versions.current.version, 1)
            let base = self.server.versions.base.loaded.model
            let rebuilt = try reader.snapshot().applied(to: base)
            for l in 0..<TinyModelFile.layers {
                XCTAssertEqual(self.server.versions.current.loaded.model.weights.blocks[l].ffnDown, rebuilt.weights.blocks[l].ffnDown, "layer \(l)")
            }
            XCTAssertNotEqual(self.server.versions.current.loaded.model.weights.blocks[1].ffnDown, base.weights.blocks[1].ffnDown, "the edit changed layer 1")
            let c = try await client.execute(uri: "/v1/completions", method: .post, headers: self.headers(.generate),
                                             body: self.body(["prompt": "Landmark 0 is located in", "max_tokens": 2]))
            XCTAssertEqual(c.headers[.emendVersion], "1")
            let versions = try self.json(try await client.execute(uri: "/v1/versions", method: .get, headers: self.headers(.generate)))
            XCTAssertEqual(versions["head"] as? Int, 1)

            let rb = try await client.execute(uri: "/v1/versions/0/rollback", method: .post, headers: self.headers(.admin))
            XCTAssertEqual(rb.status, .ok, String(buffer: rb.body))
            XCTAssertEqual(self.server.versions.current.version, 0)
            XCTAssertEqual(self.server.versions.current.loaded.model.weights.blocks[1].ffnDown, base.weights.blocks[1].ffnDown)
            let after = try self.json(try await client.execute(uri: "/v1/edits/\(ids[0])", method: .get, headers: self.headers(.generate)))
            XCTAssertEqual(after["status"] as? String, "rolled_back")
        }
    }

    /// The dashboard: the page lists the version served; its edit form (urlencoded, with an edit key) queues an edit
    /// and redirects; once the writer has applied it the page shows it applied in version 1 (the independent truth:
    /// the store's head read directly); text from a request is escaped (a subject "<b>x</b>" never becomes markup);
    /// a generate key cannot submit; the try box answers with version 1 and the base model.
    func testDashboard_FormQueuesAnEditShownApplied() async throws {
        let app = server.makeApplication()
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            XCTAssertTrue(String(buffer: page.body).contains("<b id=\"version\">version 0</b>"), String(buffer: page.body))
            func form(_ fields: [(String, String)]) -> ByteBuffer {
                var allowed = CharacterSet.alphanumerics; allowed.insert(charactersIn: "-._")
                return ByteBuffer(string: fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
            }
            let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let fields = [("prompt", "<b>x</b> is located in"), ("subject", "<b>x</b>"), ("target_new", "Rome")]
            let refused = try await client.execute(uri: "/dashboard/edit", method: .post, headers: formHeaders,
                                                   body: form([("key", self.fixture.keys[.generate]!)] + fields))
            try self.assertError(refused, .forbidden)
            let r = try await client.execute(uri: "/dashboard/edit", method: .post, headers: formHeaders,
                                             body: form([("key", self.fixture.keys[.edit]!)] + fields))
            XCTAssertEqual(r.status, .seeOther, String(buffer: r.body))
            XCTAssertEqual(r.headers[.location], "/?submitted=1")
            var html = ""
            for _ in 0..<600 {
                try await Task.sleep(nanoseconds: 100_000_000)
                html = String(buffer: try await client.execute(uri: "/", method: .get).body)
                if html.contains("<td class=\"applied\">applied") { break }
            }
            XCTAssertEqual(try self.server.store.head(), 1)
            XCTAssertTrue(html.contains("<tr id=\"edit-1\"><td>1</td><td class=\"applied\">applied</td><td>1</td>"), html)
            XCTAssertTrue(html.contains("&lt;b&gt;x&lt;/b&gt; is located in"), html)
            XCTAssertFalse(html.contains("<b>x</b>"), "request text is escaped")
            XCTAssertFalse(html.contains("Optional("), "no Swift debug text on the page")
            let tried = try await client.execute(uri: "/dashboard/try", method: .post, headers: formHeaders,
                                                 body: form([("key", self.fixture.keys[.generate]!), ("prompt", "Paris is")]))
            let answers = String(buffer: tried.body)
            XCTAssertTrue(answers.contains("<td>version 1</td>") && answers.contains("<td>base model (version 0)</td>"), answers)
        }
    }

    /// Concurrent rollbacks (the security table): four at once, to versions 1, 0, 2 and 1 of a store at version 2.
    /// Each is answered 200, or 404 when an earlier one already moved the head below its target; none crashes; the
    /// version served is the store's head and `verify` passes (the independent truth: the store read directly).
    func testRollbacks_ConcurrentAreSerialised() async throws {
        let app = server.makeApplication()
        try await app.test(.router) { client in
            let r = try await client.execute(uri: "/v1/edits", method: .post, headers: self.headers(.edit), body: self.body(TinyModelFile.requests(4)))
            XCTAssertEqual(r.status, .accepted)
            for _ in 0..<600 where (try self.server.store.head()) < 2 { try await Task.sleep(nanoseconds: 100_000_000) }
            XCTAssertEqual(try self.server.store.head(), 2)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for v in [1, 0, 2, 1] {
                    group.addTask { try await client.execute(uri: "/v1/versions/\(v)/rollback", method: .post, headers: self.headers(.admin)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertTrue(statuses.allSatisfy { $0 == .ok || $0 == .notFound }, "\(statuses)")
            XCTAssertTrue(statuses.contains(.ok))
            let head = try self.server.store.head()
            XCTAssertEqual(self.server.versions.current.version, head)
            XCTAssertTrue(try self.server.store.verify().ok)
        }
    }

    /// Batched generation gives each request what it gets alone (the independent truth: `Generation.run` of each
    /// job by itself): four greedy jobs with different prompts, lengths and a stop string, as one batch.
    func testGeneration_BatchEqualsOneAtATime() throws {
        let loaded = server.versions.current.loaded
        let prompts = ["The Eiffel Tower is located in the city of", "Paris is", "Once upon a time, there was", "I"]
        let jobs = prompts.enumerated().map { i, p in
            GenerationJob(promptIDs: loaded.tokenizer.promptIDs(p), maxTokens: [4, 12, 7, 12][i], options: .greedy, stops: i == 3 ? ["e"] : [])
        }
        let alone = jobs.map { Generation.run($0, on: loaded) { _ in true } }
        var pieces = [[String]](repeating: [], count: jobs.count)
        let batched = Generation.runBatch(jobs.enumerated().map { i, j in (j, { pieces[i].append($0); return true }) }, on: loaded)
        for i in jobs.indices {
            XCTAssertEqual(batched[i].text, alone[i].text, "job \(i)")
            XCTAssertEqual(batched[i].completionTokens, alone[i].completionTokens, "job \(i)")
            XCTAssertEqual(batched[i].finishReason, alone[i].finishReason, "job \(i)")
            XCTAssertEqual(pieces[i].joined(), batched[i].text, "job \(i): the pieces make the text")
        }
        XCTAssertLessThanOrEqual(batched[0].completionTokens, 4)
    }

    /// Streaming is real: with the handshake the stream uses, the generating thread stops after the first piece
    /// until that piece has been written (here: until the test says so), then goes on to the end. Independent
    /// truth: the count of pieces seen while the first write is pending.
    func testStreaming_FirstPieceBeforeTheSecondToken() throws {
        let loaded = server.versions.current.loaded
        let job = GenerationJob(promptIDs: loaded.tokenizer.promptIDs("Once upon a time"), maxTokens: 12, options: .greedy, stops: [])
        let handshake = StreamHandshake()
        let seen = Counter()
        let done = expectation(description: "generation ends")
        Thread {
            _ = Generation.run(job, on: loaded) { _ in
                seen.add()
                handshake.waitForFirstWrite()
                return true
            }
            done.fulfill()
        }.start()
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(seen.value, 1, "no second piece before the first is written")
        handshake.firstWritten()
        wait(for: [done], timeout: 60)
        XCTAssertGreaterThan(seen.value, 1)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    func add() { lock.lock(); n += 1; lock.unlock() }
}
