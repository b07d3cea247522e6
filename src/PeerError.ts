/**
 * What a peer's answer means, once it is not success: the one field block
 * every peer's error carries (each peer keeps its own tag and message), and
 * the one mapping from a fault or a reply to it.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { isRetryableStatus } from "./Retry.js"
import type { ServiceRef } from "./Domain.js"
import type { HttpFault, Reply } from "./Transport.js"

/** Why a peer failed us, and whether (and when) another try can help. */
export interface PeerFailure<Reason extends string = "Unavailable" | "Timeout" | "Rejected" | "BadResponse"> {
  readonly reason: Reason
  readonly detail: string
  readonly status?: number
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
}

/** The field block of every peer's error: the failure, the service it was about, and the peer (its URL, no credentials). */
export type PeerErrorFields<Reason extends string> = PeerFailure<Reason> & {
  readonly service: ServiceRef
  readonly peer: string
}

/** `api in production`, as messages name a service. */
export const who = (service: ServiceRef): string => `${service.name} in ${service.environment}`

/**
 * A fault below HTTP: a body too large, or an answer that is not HTTP, will
 * come back the same; a certificate not trusted now will not be trusted in a
 * second either. The rest may pass.
 */
export const fromFault = (fault: HttpFault): PeerFailure => ({
  reason: fault.kind === "Timeout" ? "Timeout" : fault.kind === "NotHttp" || fault.kind === "TooLarge" ? "BadResponse" : "Unavailable",
  detail: fault.detail,
  retryable: fault.kind !== "NotHttp" && fault.kind !== "TooLarge" && fault.kind !== "Tls" && fault.kind !== "Invalid",
  retryAfter: Option.none()
})

/**
 * A reply that is not success: 408, 429 and 5xx are "Unavailable" and worth
 * retrying (after `Retry-After` if the peer says), anything else is
 * "Rejected" for good. Redirects are not followed (a status endpoint that
 * moved is a configuration change), so they say where to point `key` instead.
 */
export const fromReply = (reply: Reply, key: string, nowMillis: number): PeerFailure<"Unavailable" | "Rejected"> => {
  const retryable = isRetryableStatus(reply.status)
  return {
    reason: retryable ? "Unavailable" : "Rejected",
    status: reply.status,
    detail: statusDetail(reply, key),
    retryable,
    retryAfter: retryAfter(reply.headers, nowMillis)
  }
}

/** A bad answer that is not a transport fault (invalid JSON, a wrong shape): never retried. */
export const badResponse = (detail: string): PeerFailure<"BadResponse"> => ({
  reason: "BadResponse",
  detail,
  retryable: false,
  retryAfter: Option.none()
})

const statusDetail = (reply: Reply, key: string): string => {
  if (reply.status >= 300 && reply.status < 400) {
    const location = reply.headers["location"]
    return `redirected${location ? ` to ${peerMessage(location)}` : ""}; redirects are not followed, point ${key} at the final address`
  }
  const said = peerMessage(reply.body)
  return isRetryableStatus(reply.status) ? `answered ${reply.status}${said ? `: ${said}` : ""}` : said
}

/** `Retry-After` as seconds or an HTTP date; absent or unreadable is none. */
export const retryAfter = (headers: Readonly<Record<string, string>>, nowMillis: number): Option.Option<Duration.Duration> => {
  const raw = headers["retry-after"]
  if (raw === undefined) return Option.none()
  const trimmed = raw.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - nowMillis)))
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
