/**
 * One HTTP exchange with a peer we do not control: bounded in time and in
 * body size, and every way it can go wrong turned into a small value that an
 * error message can name. `Transport` is the port; `NodeTransport.ts` is the
 * adapter over node:http, tests use fakes.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { isRetryableStatus } from "./Retry.js"

export interface Request {
  readonly method: "GET" | "POST"
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

export interface Reply {
  readonly status: number
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface Limits {
  /** For the whole exchange, headers and body together: a peer that drips bytes cannot hold us. */
  readonly timeout: Duration.Duration
  /** A body past this is never buffered. */
  readonly maxBytes: number
  /**
   * Past `maxBytes`: `fail` (the body is the answer, as the convertor's is), or
   * `truncate` (only the status matters, and a little of the body for a message).
   */
  readonly oversize?: "fail" | "truncate"
}

/** What went wrong below HTTP status codes. */
export class HttpFault extends Data.TaggedError("HttpFault")<{
  readonly kind: "Refused" | "Reset" | "Timeout" | "Unreachable" | "NotHttp" | "TooLarge" | "Tls" | "Other"
  readonly detail: string
}> {}

/**
 * How a fault reads in a peer's error, and whether another try can help: a
 * body too large, or an answer that is not HTTP at all, will come back the same.
 */
export const faultOutcome = (
  fault: HttpFault
): { readonly reason: "Timeout" | "BadResponse" | "Unavailable"; readonly retryable: boolean } =>
  fault.kind === "Timeout"
    ? { reason: "Timeout", retryable: true }
    : fault.kind === "NotHttp" || fault.kind === "TooLarge"
      ? { reason: "BadResponse", retryable: false }
      : // A certificate that is not trusted now will not be trusted in a second either.
        { reason: "Unavailable", retryable: fault.kind !== "Tls" }

export class Transport extends Context.Tag("reporter/Transport")<
  Transport,
  { readonly exchange: (request: Request, limits: Limits) => Effect.Effect<Reply, HttpFault> }
>() {}

const TRUST_HINT = "if the server uses a private CA, give its certificate to Node with NODE_EXTRA_CA_CERTS=/path/to/ca.pem"

/** Certificate problems: retrying cannot help, so they say what is wrong and how to fix it. */
const TLS_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: `the server's TLS certificate is self-signed and not trusted; ${TRUST_HINT}`,
  SELF_SIGNED_CERT_IN_CHAIN: `the server's TLS certificate chain ends in an untrusted (self-signed) CA; ${TRUST_HINT}`,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: `the server's TLS certificate cannot be verified (is the chain complete?); ${TRUST_HINT}`,
  UNABLE_TO_GET_ISSUER_CERT: `the issuer of the server's TLS certificate is unknown; ${TRUST_HINT}`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: `the issuer of the server's TLS certificate is unknown; ${TRUST_HINT}`,
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired: the server must renew it",
  CERT_NOT_YET_VALID: "the server's TLS certificate is not valid yet: check the clocks of both machines",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another host name: check the URL's host, or the certificate",
  HOSTNAME_MISMATCH: "the server's TLS certificate is for another host name: check the URL's host, or the certificate",
  CERT_REVOKED: "the server's TLS certificate has been revoked"
}

/** A Node.js network error as a fault people can read. */
export const classify = (error: unknown): HttpFault => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  if (typeof code === "string" && TLS_PROBLEMS[code] !== undefined) {
    return new HttpFault({ kind: "Tls", detail: TLS_PROBLEMS[code] })
  }
  switch (code) {
    case "ECONNREFUSED":
      return new HttpFault({ kind: "Refused", detail: "connection refused" })
    case "ECONNRESET":
    case "EPIPE":
      return new HttpFault({ kind: "Reset", detail: "connection reset by peer" })
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new HttpFault({ kind: "Unreachable", detail: "host name not found" })
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new HttpFault({ kind: "Unreachable", detail: "host unreachable" })
    case "ETIMEDOUT":
      return new HttpFault({ kind: "Timeout", detail: "connection timed out" })
  }
  if (typeof code === "string" && code.startsWith("HPE_")) {
    return new HttpFault({ kind: "NotHttp", detail: "the peer's answer is not HTTP" })
  }
  return new HttpFault({ kind: "Other", detail: typeof code === "string" ? code : "request failed" })
}

export const tooLarge = (limit: number) =>
  new HttpFault({ kind: "TooLarge", detail: `the response body exceeds ${Math.round(limit / 1024)} KiB` })

export const cutShort = () => new HttpFault({ kind: "Reset", detail: "the response body was cut short" })

export const timedOut = (timeout: Duration.Duration) =>
  new HttpFault({ kind: "Timeout", detail: `no complete answer within ${Duration.format(timeout)}` })

/** `Retry-After` as seconds or an HTTP date; absent or unreadable is none. */
export const retryAfter = (headers: Readonly<Record<string, string>>, nowMillis: number): Option.Option<Duration.Duration> => {
  const raw = headers["retry-after"]
  if (raw === undefined) return Option.none()
  const trimmed = raw.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - nowMillis)))
}

/**
 * What a status that is not success means, for an error's detail. Redirects
 * are not followed (a status endpoint that moved is a configuration change),
 * so they say where to point `key` instead.
 */
export const statusDetail = (reply: Reply, key: string): string => {
  if (reply.status >= 300 && reply.status < 400) {
    const location = reply.headers["location"]
    return `redirected${location ? ` to ${peerMessage(location)}` : ""}; redirects are not followed, point ${key} at the final address`
  }
  const said = peerMessage(reply.body)
  return isRetryableStatus(reply.status) ? `answered ${reply.status}${said ? `: ${said}` : ""}` : said
}

/**
 * A reply that is not success, as a peer's error reads it: 408, 429 and 5xx
 * are "Unavailable" and worth retrying (after `Retry-After` if the peer says),
 * anything else is "Rejected" for good.
 */
export const statusOutcome = (reply: Reply, key: string, nowMillis: number) => {
  const retryable = isRetryableStatus(reply.status)
  return {
    reason: retryable ? ("Unavailable" as const) : ("Rejected" as const),
    status: reply.status,
    detail: statusDetail(reply, key),
    retryable,
    retryAfter: retryAfter(reply.headers, nowMillis)
  }
}

/** The server's own explanation, short enough for one log line. */
export const peerMessage = (body: string): string => {
  let text = body
  try {
    const parsed = JSON.parse(body) as unknown
    if (typeof parsed === "object" && parsed !== null) {
      const o = parsed as Record<string, unknown>
      const m = o["message"] ?? o["errMsg"] ?? o["error"] ?? o["detail"]
      if (typeof m === "string") text = m
    }
  } catch {
    // not JSON: use the text itself
  }
  const flat = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    // A peer that echoes our Authorization header must not put the token in our log.
    .replace(/Bearer\s+\S+/gi, "Bearer [token]")
    .replace(/eyJ[\w-]*\.[\w-]*(\.[\w-]*)?/g, "[token]")
    .trim()
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat
}

/** How long a notification on the wire may go on after a stop was asked for. */
export const IN_FLIGHT_GRACE = Duration.seconds(3)

/**
 * Runs `self` to its end even if the caller is interrupted, but for at most
 * `grace` after that, so a stop stays prompt; its own timeouts still work.
 * (`Effect.uninterruptible` alone would also disable those, and a child
 * fiber would be interrupted with its parent, hence the daemon fiber.)
 */
export const finishInFlight = <A, E>(self: Effect.Effect<A, E>, grace: Duration.Duration = IN_FLIGHT_GRACE): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDaemon(restore(self)), (fiber) =>
      restore(Fiber.join(fiber)).pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function* () {
            // This finalizer cannot be interrupted, and neither could a timeout raced inside it:
            // a separate watchdog fiber ends the work when the grace period is over.
            const watchdog = yield* Effect.forkDaemon(
              Effect.interruptible(Effect.sleep(grace).pipe(Effect.zipRight(Fiber.interrupt(fiber))))
            )
            yield* Fiber.await(fiber)
            yield* Fiber.interrupt(watchdog)
          })
        )
      )
    )
  )
