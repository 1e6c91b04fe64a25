// The body of POST /v1/completions and /v1/chat/completions, checked field by field. Fields OpenAI defines but
// Emend does not implement are accepted only at their neutral value (n = 1, no logprobs, zero penalties), so a
// client is never silently given something else than it asked for; any other unknown field is refused by name.

import EmendModels
import Foundation

struct ServeLimits: Sendable {
    /// Request body bytes at most (413 beyond).
    var maxBodyBytes = 1 << 20
    /// Prompt tokens at most (413 beyond; never more than the model's context).
    var maxPromptTokens = 4096
    /// max_tokens at most (400 beyond).
    var maxCompletionTokens = 1024
    /// Requests in one POST /v1/edits at most (413 beyond).
    var maxEditsPerPost = 1000
    /// Requests per minute per key (429 beyond; 0: no limit).
    var requestsPerMinute = 600
}

struct CompletionRequest: Sendable {
    enum Input: Sendable { case text(String); case chat([ChatMessage]) }
    var input: Input
    var model: String?
    var maxTokens: Int
    var temperature: Float
    var topP: Float
    var topK: Int
    var seed: UInt64
    var stops: [String]
    var stream: Bool
    var includeUsage: Bool

    static let common: Set<String> = ["model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
                                      "stream_options", "n", "user", "frequency_penalty", "presence_penalty", "logprobs",
                                      "logit_bias", "metadata", "store"]
    static let completionOnly: Set<String> = ["prompt", "echo", "suffix", "best_of"]
    static let chatOnly: Set<String> = ["messages", "max_completion_tokens", "top_logprobs", "response_format", "parallel_tool_calls"]

    /// Parses and checks a body; `chat` selects the chat form (messages) over the completion form (prompt).
    static func parse(_ data: Data, chat: Bool, limits: ServeLimits) throws -> CompletionRequest {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw APIError(.badRequest, "the body is not valid JSON: expected an object such as {\"model\": …, \"\(chat ? "messages" : "prompt")\": …}",
                           code: "invalid_json")
        }
        guard let d = object as? [String: Any] else {
            throw APIError.invalid("(body)", expected: "a JSON object", got: typeName(object))
        }
        let known = common.union(chat ? chatOnly : completionOnly)
        if let unknown = d.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError(.badRequest, "unknown field '\(unknown.prefix(64))': this endpoint accepts \(known.sorted().joined(separator: ", "))",
                           param: String(unknown.prefix(64)), code: "unknown_field")
        }
        // Neutral values only for what Emend does not implement.
        if let n = d["n"], !(n is NSNull), int(n) != 1 { throw APIError.invalid("n", expected: "1 (one choice per request)", got: "\(n)") }
        for f in ["frequency_penalty", "presence_penalty"] {
            if let v = d[f], !(v is NSNull), number(v) != 0 { throw APIError.invalid(f, expected: "0 (penalties are not implemented)", got: "\(v)") }
        }
        for f in ["logprobs", "top_logprobs", "echo", "suffix", "best_of", "logit_bias", "response_format", "parallel_tool_calls", "store", "metadata"] {
            guard let v = d[f], !(v is NSNull) else { continue }
            let neutral = (isBool(v) && (v as? Bool) == false) || (f == "best_of" && int(v) == 1) || (f == "logit_bias" && (v as? [String: Any])?.isEmpty == true)
                || (f == "response_format" && ((v as? [String: Any])?["type"] as? String) == "text") || f == "parallel_tool_calls" || f == "metadata"
                || f == "store"
            guard neutral else { throw APIError.invalid(f, expected: "to be left out (not implemented)", got: "\(String(describing: v).prefix(64))") }
        }

        let input: Input
        if chat {
            guard let raw = d["messages"] else { throw APIError.invalid("messages", expected: "an array of {role, content}", got: "missing") }
            guard let list = raw as? [Any], !list.isEmpty else { throw APIError.invalid("messages", expected: "a non-empty array of {role, content}", got: typeName(raw)) }
            var messages: [ChatMessage] = []
            for (i, m) in list.enumerated() {
                guard let o = m as? [String: Any] else { throw APIError.invalid("messages[\(i)]", expected: "an object {role, content}", got: typeName(m)) }
                guard let role = o["role"] as? String, ["system", "user", "assistant", "developer"].contains(role) else {
                    throw APIError.invalid("messages[\(i)].role", expected: "system, user, assistant or developer", got: "\(String(describing: o["role"] ?? "missing").prefix(40))")
                }
                messages.append(ChatMessage(role: role == "developer" ? "system" : role, content: try content(o["content"], field: "messages[\(i)].content")))
            }
            input = .chat(messages)
        } else {
            guard let raw = d["prompt"] else { throw APIError.invalid("prompt", expected: "a string", got: "missing") }
            if let s = raw as? String { input = .text(s) }
            else if let a = raw as? [Any], a.count == 1, let s = a[0] as? String { input = .text(s) }
            else { throw APIError.invalid("prompt", expected: "a string (or an array of exactly one string)", got: typeName(raw)) }
        }

        var maxTokens = 16
        for f in chat ? ["max_completion_tokens", "max_tokens"] : ["max_tokens"] {
            guard let v = d[f], !(v is NSNull) else { continue }
            guard let n = int(v), n >= 1 else { throw APIError.invalid(f, expected: "a whole number ≥ 1", got: "\(String(describing: v).prefix(40))") }
            guard n <= limits.maxCompletionTokens else {
                throw APIError.invalid(f, expected: "at most \(limits.maxCompletionTokens) (this server's limit)", got: "\(n)")
            }
            maxTokens = n
            break
        }
        let temperature = try optionalNumber(d, "temperature", default: 1, range: 0...2)
        let topP = try optionalNumber(d, "top_p", default: 1, range: 0...1)
        guard topP > 0 else { throw APIError.invalid("top_p", expected: "a number in (0, 1]", got: "0") }
        var topK = 0
        if let v = d["top_k"], !(v is NSNull) {
            guard let k = int(v), k >= 0 else { throw APIError.invalid("top_k", expected: "a whole number ≥ 0 (0: all tokens)", got: "\(v)") }
            topK = k
        }
        var seed: UInt64 = 0
        if let v = d["seed"], !(v is NSNull) {
            guard let s = int(v) else { throw APIError.invalid("seed", expected: "a whole number", got: "\(String(describing: v).prefix(40))") }
            seed = UInt64(bitPattern: Int64(s))
        }
        var stops: [String] = []
        if let v = d["stop"], !(v is NSNull) {
            if let s = v as? String { stops = [s] } else if let a = v as? [String] { stops = a } else {
                throw APIError.invalid("stop", expected: "a string or an array of up to 4 strings", got: typeName(v))
            }
            guard stops.count <= 4, stops.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
                throw APIError.invalid("stop", expected: "up to 4 non-empty strings of at most 256 characters", got: "\(stops.count) string(s)")
            }
        }
        var stream = false
        if let v = d["stream"], !(v is NSNull) {
            guard CompletionRequest.isBool(v), let b = v as? Bool else { throw APIError.invalid("stream", expected: "true or false", got: typeName(v)) }
            stream = b
        }
        var includeUsage = false
        if let v = d["stream_options"], !(v is NSNull) {
            guard let o = v as? [String: Any] else { throw APIError.invalid("stream_options", expected: "an object", got: typeName(v)) }
            includeUsage = (o["include_usage"] as? Bool) ?? false
        }
        if let v = d["user"], !(v is NSNull), !(v is String) { throw APIError.invalid("user", expected: "a string", got: typeName(v)) }
        var model: String? = nil
        if let v = d["model"], !(v is NSNull) {
            guard let s = v as? String else { throw APIError.invalid("model", expected: "a string", got: typeName(v)) }
            model = s
        }
        return CompletionRequest(input: input, model: model, maxTokens: maxTokens, temperature: Float(temperature), topP: Float(topP),
                                 topK: topK, seed: seed, stops: stops, stream: stream, includeUsage: includeUsage)
    }

    /// Message content: a string, or an array of {"type": "text", "text": …} parts.
    static func content(_ v: Any?, field: String) throws -> String {
        if let s = v as? String { return s }
        if let parts = v as? [Any] {
            return try parts.enumerated().map { i, p -> String in
                guard let o = p as? [String: Any], (o["type"] as? String) == "text", let t = o["text"] as? String else {
                    throw APIError.invalid("\(field)[\(i)]", expected: "a text part {\"type\": \"text\", \"text\": …}", got: typeName(p))
                }
                return t
            }.joined()
        }
        throw APIError.invalid(field, expected: "a string or an array of text parts", got: v.map(typeName) ?? "missing")
    }

    static func optionalNumber(_ d: [String: Any], _ f: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        guard let v = d[f], !(v is NSNull) else { return value }
        guard let x = number(v), x.isFinite, range.contains(x) else {
            throw APIError.invalid(f, expected: "a number in \(range.lowerBound)...\(range.upperBound)", got: "\(String(describing: v).prefix(40))")
        }
        return x
    }

    /// A JSON number (JSONSerialization gives NSNumber for numbers and booleans alike; a boolean's type is "c").
    static func number(_ v: Any) -> Double? {
        guard let n = v as? NSNumber, !isBool(n) else { return nil }
        return n.doubleValue
    }

    static func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    static func int(_ v: Any) -> Int? {
        guard let x = number(v), x.rounded() == x, abs(x) < 9.0e15 else { return nil }
        return Int(x)
    }
}

func typeName(_ v: Any) -> String {
    switch v {
    case is NSNull: return "null"
    case is String: return "a string"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return CompletionRequest.isBool(v) ? "a boolean" : (CompletionRequest.number(v) != nil ? "a number" : "\(type(of: v))")
    }
}
