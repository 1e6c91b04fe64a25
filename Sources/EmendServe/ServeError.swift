// The server's errors. `ServeError`: starting the server (options, the keys file) — one sentence naming the file,
// line or option, what was expected and what was found. `APIError`: one HTTP request's failure, answered in the
// OpenAI error shape so that existing clients report it:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": null}}

import Foundation
import Hummingbird

public enum ServeError: Error, CustomStringConvertible, Equatable {
    case keysFile(file: String, line: Int, problem: String)
    case invalidOption(name: String, expected: String, got: String)

    public var description: String {
        switch self {
        case let .keysFile(f, l, p): return l > 0 ? "\(f), line \(l): \(p)" : "the keys file \(f) \(p)"
        case let .invalidOption(n, e, g): return "\(n): expected \(e), got \(g)"
        }
    }
}

extension ServeError: LocalizedError {
    public var errorDescription: String? { description }
}

/// A request's failure, in OpenAI's error shape.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's error types: invalid_request_error, authentication_error, permission_error, not_found_error,
    /// rate_limit_error, server_error.
    public var type: String
    /// The request field at fault, if one is.
    public var param: String?
    public var code: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    static func invalid(_ param: String, expected: String, got: String) -> APIError {
        APIError(.badRequest, "\(param): expected \(expected), got \(got)", param: param, code: "invalid_value")
    }
    static func unauthorized() -> APIError {
        APIError(.unauthorized, "no valid API key: send 'Authorization: Bearer <key>' with a key from the server's keys file",
                 type: "authentication_error", code: "invalid_api_key")
    }
    static func forbidden(_ needed: KeyScope, have: KeyScope) -> APIError {
        APIError(.forbidden, "this key's scope is \(have.rawValue); this request needs \(needed.rawValue) (or a wider scope)",
                 type: "permission_error", code: "insufficient_scope")
    }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, what, type: "not_found_error", code: "not_found") }
    static func tooLarge(_ what: String, param: String? = nil) -> APIError {
        APIError(.contentTooLarge, what, param: param, code: "too_large")
    }

    /// The JSON body.
    var body: Data {
        var error: [String: Any] = ["message": message, "type": type]
        error["param"] = param ?? NSNull()
        error["code"] = code ?? NSNull()
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
