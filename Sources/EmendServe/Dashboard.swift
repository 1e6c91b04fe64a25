// The dashboard at /: one server-rendered HTML page (no script, no build step, no external asset) with the version
// served, the writer's state, the edit queue and the history, a form to submit an edit and a "try a prompt" box
// that shows the current version's answer beside the base model's. The page itself shows only what GET /v1/edits
// and /v1/versions show; both forms carry a key (edit scope to submit, generate to try), checked like the API's.
//   GET  /                   the page
//   POST /dashboard/edit     form: key, prompt (with the subject written in it), subject, target_new → 303 to /
//   POST /dashboard/try      form: key, prompt, max_tokens → the page with both answers

import EmendEditing
import EmendModels
import Foundation
import Hummingbird

extension EmendServer {
    func addDashboardRoutes(_ router: Router<ServeContext>) {
        router.get("/") { request, _ in
            let note = request.uri.queryParameters["submitted"].map { "Queued edit(s) \(String($0).prefix(200))." }
            return try self.dashboardPage(note: note)
        }
        router.post("/dashboard/edit") { request, _ in
            let form = try self.form(await self.body(request))
            let key = try self.formKey(form, scope: .edit)
            let edit: [String: String] = ["prompt": form["prompt"] ?? "", "subject": form["subject"] ?? "", "target_new": form["target_new"] ?? ""]
            let ids = try self.enqueue(jsonData([edit]), submittedBy: key.name)
            return Response(status: .seeOther, headers: [.location: "/?submitted=" + ids.map(String.init).joined(separator: ",")])
        }
        router.post("/dashboard/try") { request, _ in
            let form = try self.form(await self.body(request))
            _ = try self.formKey(form, scope: .generate)
            let prompt = form["prompt"] ?? ""
            guard !prompt.isEmpty else { throw APIError.invalid("prompt", expected: "a non-empty text", got: "empty") }
            let maxTokens = min(Int(form["max_tokens"] ?? "") ?? 12, self.limits.maxCompletionTokens, 64)
            let current = self.versions.current, base = self.versions.base
            var answers: [(String, String)] = []
            for served in [current, base] {
                let ids = try self.promptIDs(.text(prompt), model: served.loaded)
                let job = GenerationJob(promptIDs: ids, maxTokens: max(1, maxTokens), options: .greedy, stops: [])
                let r = await self.scheduler.run(job, on: served)
                answers.append((served.version == 0 ? "base model (version 0)" : "version \(served.version)", r.text))
            }
            return try self.dashboardPage(tried: (prompt, answers))
        }
    }

    /// A urlencoded form's fields.
    func form(_ data: Data) throws -> [String: String] {
        guard let text = String(data: data, encoding: .utf8) else { throw APIError.invalid("(form)", expected: "UTF-8 text", got: "other bytes") }
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            out[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return out
    }

    func formKey(_ form: [String: String], scope: KeyScope) throws -> APIKey {
        guard let presented = form["key"], !presented.isEmpty, let key = keyring.match(presented) else { throw APIError.unauthorized() }
        guard key.allows(scope) else { throw APIError.forbidden(scope, have: key.scope) }
        if limiter.take(key.name) != nil { throw APIError(.tooManyRequests, "rate limit reached for this key", type: "rate_limit_error") }
        return key
    }

    func dashboardPage(note: String? = nil, tried: (prompt: String, answers: [(String, String)])? = nil) throws -> Response {
        let v = try versionsJSON()
        let writer = (v["writer"] as? [String: Any]) ?? [:]
        let queue = (v["queue"] as? [String: Int]) ?? [:]
        let edits = try store.queuedEdits(limit: 100)
        var html = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>emend serve</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:64em;padding:0 1em;color:#222}
        h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
        table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #eee;padding:.25em .5em;text-align:left;vertical-align:top}
        .applied{color:#070} .refused{color:#a00} .queued,.applying{color:#a60} .rolled_back{color:#777}
        form{display:grid;grid-template-columns:9em 1fr;gap:.4em;max-width:44em} input{font:inherit;padding:.2em}
        .note{background:#eef6ee;padding:.5em} .answers td{font-family:ui-monospace,monospace}
        </style></head><body>
        <h1>emend serve: \(esc(modelID))</h1>
        <p>Serving <b id="version">version \(versions.current.version)</b> (head \(v["head"] ?? 0)).
        Writer: <span id="writer">\(esc(writer["phase"] as? String ?? ""))</span>.
        Queue: \(QueueStatus.allCases.map { "\($0.rawValue) \(queue[$0.rawValue] ?? 0)" }.joined(separator: ", ")).</p>
        """
        if let e = writer["last_error"] as? String { html += "<p class=\"refused\">Last writer error: \(esc(e))</p>" }
        if let note { html += "<p class=\"note\" id=\"note\">\(esc(note))</p>" }
        html += """
        <h2>Try a prompt</h2>
        <form method="post" action="/dashboard/try">
        <label for="try-key">Key (generate)</label><input id="try-key" name="key" type="password" required>
        <label for="try-prompt">Prompt</label><input id="try-prompt" name="prompt" value="\(esc(tried?.prompt ?? "The Eiffel Tower is located in the city of"))" required>
        <span></span><button type="submit">Answer with both versions</button></form>
        """
        if let tried {
            html += "<table class=\"answers\" id=\"answers\"><tr><th>model</th><th>answer</th></tr>"
            for (who, text) in tried.answers { html += "<tr><td>\(esc(who))</td><td>\(esc(tried.prompt))<b>\(esc(text))</b></td></tr>" }
            html += "</table>"
        }
        html += """
        <h2>Submit an edit</h2>
        <form method="post" action="/dashboard/edit" id="edit-form">
        <label for="edit-key">Key (edit)</label><input id="edit-key" name="key" type="password" required>
        <label for="edit-prompt">Prompt</label><input id="edit-prompt" name="prompt" placeholder="The Eiffel Tower is located in the city of" required>
        <label for="edit-subject">Subject</label><input id="edit-subject" name="subject" placeholder="Eiffel Tower" required>
        <label for="edit-target">New answer</label><input id="edit-target" name="target_new" placeholder="Rome" required>
        <span></span><button type="submit">Queue the edit</button></form>
        <h2>Edits (newest first)</h2>
        <table id="edits"><tr><th>id</th><th>status</th><th>version</th><th>fact</th><th>new answer</th><th>by</th><th>received</th></tr>
        """
        for e in edits {
            let detail = e.reason.map { "<br><small>\(esc($0))</small>" } ?? ""
            html += "<tr id=\"edit-\(e.id)\"><td>\(e.id)</td><td class=\"\(e.status.rawValue)\">\(e.status.rawValue)\(detail)</td>"
                + "<td>\(e.version.map(String.init) ?? "")</td><td>\(esc(e.request.filledPrompt))</td><td>\(esc(e.request.targetNew))</td>"
                + "<td>\(esc(e.submittedBy ?? ""))</td><td>\(esc(e.receivedAt))</td></tr>"
        }
        html += "</table><h2>Versions</h2><table id=\"versions\"><tr><th>version</th><th>status</th><th>method</th><th>requests</th><th>created</th></tr>"
        for row in ((v["data"] as? [[String: Any]]) ?? []).reversed() {
            html += "<tr><td>\(row["version"] ?? "")</td><td>\(esc("\(row["status"] ?? "")"))</td><td>\(esc("\(row["method"] ?? "")"))</td>"
                + "<td>\(row["request_count"] ?? "")</td><td>\(esc("\(row["created_at"] ?? "")"))</td></tr>"
        }
        html += "</table></body></html>\n"
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// HTML-escapes text for element content and quoted attributes.
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
