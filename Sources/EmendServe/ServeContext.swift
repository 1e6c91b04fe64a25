// Each request's context (its authenticated key, through hummingbird-auth), the middleware that finds the key,
// the per-key rate limit, and the middleware that answers every failure in OpenAI's error shape.

import Foundation
import Hummingbird
import HummingbirdAuth
import Logging

public struct ServeContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The key the request presented, when it matches one of the keys file.
    public var identity: APIKey?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
    }
}

/// Finds the request's key ("Authorization: Bearer <key>") in the keys in force, compared in constant time.
struct APIKeyAuthenticator: AuthenticatorMiddleware {
    typealias Context = ServeContext
    let keyring: KeyringFile

    func authenticate(request: Request, context: ServeContext) async throws -> APIKey? {
        guard let token = request.headers.bearer?.token else { return nil }
        return keyring.match(token)
    }
}

/// Requests per minute per key: a token bucket that refills continuously.
final class RateLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, at: Double)] = [:]
    let perMinute: Int

    init(perMinute: Int) { self.perMinute = perMinute }

    /// Takes one request from `key`'s bucket; returns the seconds to wait when it is empty.
    func take(_ key: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        guard perMinute > 0 else { return nil }
        lock.lock(); defer { lock.unlock() }
        let capacity = Double(perMinute), rate = capacity / 60
        var b = buckets[key] ?? (capacity, now)
        b.tokens = min(capacity, b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens < 1 {
            buckets[key] = b
            return (1 - b.tokens) / rate
        }
        b.tokens -= 1
        buckets[key] = b
        return nil
    }
}

extension ServeContext {
    /// The request's key if it has `scope`: 401 without a valid key, 403 with too narrow a scope, 429 past the
    /// key's rate.
    func authorize(_ scope: KeyScope, limiter: RateLimiter) throws -> APIKey {
        guard let key = identity else { throw APIError.unauthorized() }
        guard key.allows(scope) else { throw APIError.forbidden(scope, have: key.scope) }
        if let wait = limiter.take(key.name) {
            var e = APIError(.tooManyRequests, "rate limit of \(limiter.perMinute) requests per minute for this key reached; retry in \(Int(wait.rounded(.up))) s",
                             type: "rate_limit_error", code: "rate_limit_exceeded")
            e.headers[.retryAfter] = "\(Int(wait.rounded(.up)))"
            throw e
        }
        return key
    }
}

/// Turns every error into an OpenAI-shaped answer; what is not a known request error becomes a 500 whose detail
/// goes to the log only.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let logger: Logger

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return try e.response(from: request, context: context)
        } catch let e as HTTPResponseError {
            let api: APIError
            switch e.status {
            case .notFound: api = .notFound("no route \(request.method.rawValue) \(request.uri.path.prefix(200))")
            case .contentTooLarge: api = .tooLarge("the request body is larger than this server accepts")
            case .unauthorized: api = .unauthorized()
            case .methodNotAllowed: api = APIError(.methodNotAllowed, "method \(request.method.rawValue) is not allowed on \(request.uri.path.prefix(200))")
            default: api = APIError(e.status, "\(e.status.reasonPhrase)", type: e.status.code >= 500 ? "server_error" : "invalid_request_error")
            }
            return try api.response(from: request, context: context)
        } catch {
            logger.error("internal error on \(request.method.rawValue) \(request.uri.path): \(error)")
            return try APIError(.internalServerError, "internal error (see the server's log)", type: "server_error").response(from: request, context: context)
        }
    }
}
