// The edit queue over HTTP.
//   POST /v1/edits                     (edit)     requests in any form a requests file accepts, or {"requests": [...]};
//                                                 recorded as queued in the journal, then answered 202 with their ids
//   GET  /v1/edits[?status=&limit=]    (generate) the queue, newest first
//   GET  /v1/edits/{id}                (generate) one request: queued, applying, applied (version k), rolled_back,
//                                                 refused (reason)
//   GET  /v1/versions                  (generate) the versions, the head, the version served, the writer's state
//   POST /v1/versions/{k}/rollback     (admin)    make version k the head (between batches)

import EmendEditing
import EmendModels
import Foundation
import Hummingbird

extension EmendServer {
    func addEditRoutes(_ router: Router<ServeContext>) {
        router.post("/v1/edits") { request, context in
            let key = try context.authorize(.edit, limiter: self.limiter)
            let data = try await self.body(request)
            let ids = try self.enqueue(data, submittedBy: key.name)
            let edits = try self.store.queuedEdits(ids: ids, limit: ids.count)
            return jsonResponse(["object": "list", "data": edits.sorted { $0.id < $1.id }.map(editJSON)], status: .accepted,
                                headers: [.emendVersion: "\(self.versions.current.version)"])
        }
        router.get("/v1/edits") { request, context in
            _ = try context.authorize(.generate, limiter: self.limiter)
            var status: QueueStatus? = nil
            if let s = request.uri.queryParameters["status"] {
                guard let v = QueueStatus(rawValue: String(s)) else {
                    throw APIError.invalid("status", expected: QueueStatus.allCases.map(\.rawValue).joined(separator: ", "), got: "'\(s.prefix(40))'")
                }
                status = v
            }
            var limit = 100
            if let s = request.uri.queryParameters["limit"] {
                guard let n = Int(s), (1...1000).contains(n) else { throw APIError.invalid("limit", expected: "a whole number in 1...1000", got: "'\(s.prefix(40))'") }
                limit = n
            }
            let edits = try self.store.queuedEdits(status: status, limit: limit)
            return jsonResponse(["object": "list", "data": edits.map(editJSON)])
        }
        router.get("/v1/edits/:id") { _, context in
            _ = try context.authorize(.generate, limiter: self.limiter)
            let raw = context.parameters.get("id") ?? ""
            guard let id = Int64(raw), id > 0 else { throw APIError.invalid("id", expected: "a positive whole number (an id from POST /v1/edits)", got: "'\(raw.prefix(40))'") }
            guard let edit = try self.store.queuedEdits(ids: [id], limit: 1).first else { throw APIError.notFound("no edit \(id)") }
            return jsonResponse(editJSON(edit))
        }
        router.get("/v1/versions") { _, context in
            _ = try context.authorize(.generate, limiter: self.limiter)
            return jsonResponse(try self.versionsJSON())
        }
        router.post("/v1/versions/:version/rollback") { _, context in
            _ = try context.authorize(.admin, limiter: self.limiter)
            let raw = context.parameters.get("version") ?? ""
            guard let v = Int(raw), v >= 0 else { throw APIError.invalid("version", expected: "a whole number ≥ 0 (0: the base model)", got: "'\(raw.prefix(40))'") }
            let head = try self.store.head()
            guard v <= head else { throw APIError.notFound("no version \(v): versions are 0 (the base model) to \(head)") }
            do {
                let now = try await self.writer.rollback(to: v)
                return jsonResponse(["object": "rollback", "head": now, "serving": self.versions.current.version])
            } catch let e as EditStoreError {
                if case .noSuchVersion = e { throw APIError.notFound("\(e)") }
                throw APIError(.conflict, "\(e)", type: "invalid_request_error", code: "rollback_refused")
            }
        }
    }

    /// Parses a POST /v1/edits body, checks each request against the model, and queues them durably.
    func enqueue(_ data: Data, submittedBy: String) throws -> [Int64] {
        var payload = data
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let wrapped = object["requests"] {
            if let extra = object.keys.first(where: { $0 != "requests" }) {
                throw APIError(.badRequest, "unknown field '\(extra.prefix(64))' beside 'requests'", param: String(extra.prefix(64)), code: "unknown_field")
            }
            guard let list = wrapped as? [Any] else { throw APIError.invalid("requests", expected: "an array of requests", got: typeName(wrapped)) }
            payload = jsonData(list)
        }
        let requests: [EditRequest]
        do { requests = try EditRequest.parse(payload, file: "the request body") } catch let e as EmendEditingError {
            throw APIError(.badRequest, "\(e)", code: "invalid_edit_request")
        }
        guard requests.count <= limits.maxEditsPerPost else {
            throw APIError.tooLarge("\(requests.count) requests in one POST; this server accepts at most \(limits.maxEditsPerPost)", param: "requests")
        }
        let model = versions.base.loaded
        for (i, r) in requests.enumerated() {
            do { try model.checkPrompt(r.filledPrompt, what: "request \(i)'s prompt") } catch {
                throw APIError(.badRequest, "\(error)", param: "requests[\(i)].prompt", code: "invalid_edit_request")
            }
            guard model.tokenizer.promptIDs(r.filledPrompt).count <= limits.maxPromptTokens else {
                throw APIError.tooLarge("request \(i)'s prompt is longer than \(limits.maxPromptTokens) tokens", param: "requests[\(i)].prompt")
            }
        }
        let ids = try store.enqueue(requests, submittedBy: submittedBy)
        writer.notify()
        return ids
    }

    func versionsJSON() throws -> [String: Any] {
        let head = try store.head()
        var data: [[String: Any]] = [["version": 0, "status": "committed", "method": "base model", "request_count": 0]]
        for b in try store.batches(includeRolledBack: true) {
            data.append(["version": b.version, "status": b.status, "method": b.method, "request_count": b.requestCount,
                         "created_at": b.createdAt, "batch_id": b.id, "weights_sha256": b.weightsSHA256])
        }
        let status = writer.status
        let counts = try store.queueCounts()
        return ["object": "list", "head": head, "serving": versions.current.version, "model": modelID, "data": data,
                "writer": ["phase": status.phase, "job": status.job.map { $0 as Any } ?? NSNull(), "last_error": status.lastError ?? NSNull()],
                "queue": Dictionary(uniqueKeysWithValues: QueueStatus.allCases.map { ($0.rawValue, counts[$0] ?? 0) })]
    }
}

func editJSON(_ e: QueuedEdit) -> [String: Any] {
    let r = e.request
    return ["id": e.id, "object": "edit", "status": e.status.rawValue, "version": e.version.map { $0 as Any } ?? NSNull(),
            "reason": e.reason ?? NSNull(), "received_at": e.receivedAt, "submitted_by": e.submittedBy ?? NSNull(),
            "job": e.jobID.map { $0 as Any } ?? NSNull(),
            "prompt": r.prompt, "subject": r.subject, "target_new": r.targetNew, "target_true": r.targetTrue ?? NSNull()]
}
