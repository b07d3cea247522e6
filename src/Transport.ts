/**
 * The port for one HTTP exchange with a peer we do not control: bounded in
 * time and in body size, every way it can go wrong a small value an error
 * message can name. `Transport/Node.ts` is the adapter over node:http; tests
 * use fakes (test/helpers.ts).
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"

export interface Request {
  readonly method: "GET" | "POST" | "PATCH" | "PUT"
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
  readonly kind: "Refused" | "Reset" | "Timeout" | "Unreachable" | "NotHttp" | "TooLarge" | "Tls" | "Invalid" | "Other"
  readonly detail: string
}> {}

export class Transport extends Context.Tag("reporter/Transport")<
  Transport,
  { readonly exchange: (request: Request, limits: Limits) => Effect.Effect<Reply, HttpFault> }
>() {}

/** The fault every adapter gives when `limits.timeout` ends an exchange. */
export const timedOut = (timeout: Duration.Duration) =>
  new HttpFault({ kind: "Timeout", detail: `no complete answer within ${Duration.format(timeout)}` })
