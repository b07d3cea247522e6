/**
 * The reporter's vocabulary: what a service is, what the convertor says
 * about it, what a target is told. Imports nothing of ours, so every layer
 * (configuration, peers, the cycle) can stand on it.
 */

/** One (service, environment) pair, as configured and as the convertor knows it. */
export interface ServiceRef {
  readonly name: string
  readonly environment: string
}

/** `api/production`: how a service is named in messages and in the configuration's maps (Statuspage components). */
export const serviceKey = (s: ServiceRef): string => `${s.name}/${s.environment}`

/**
 * One service's identity, for the program's own maps: unlike `serviceKey`,
 * `{a/b, c}` and `{a, b/c}` stay two services.
 */
export const serviceId = (s: ServiceRef): string => `${s.name}\u0000${s.environment}`

export interface Health {
  /** The raw value: 0 healthy, 1 degraded, 2 outage. Passed on, never reinterpreted. */
  readonly status: number
  /** When the convertor measured it. */
  readonly timestamp: Date
  /** Why, where the convertor says. */
  readonly matchedExpression?: string
  readonly triggeredMetrics: ReadonlyArray<string>
  readonly region?: string
}

/** What one answer of the convertor says: a current health, no data, or a health too old (or too far ahead) to send. */
export type Reading =
  | { readonly _tag: "Current"; readonly health: Health; readonly readAsMillis: boolean }
  | { readonly _tag: "NoData" }
  | { readonly _tag: "Stale"; readonly health: Health; readonly why: string }

export const statusLabel = (status: number): string =>
  status === 0 ? "healthy" : status === 1 ? "degraded" : status === 2 ? "outage" : "unknown"

export interface Notification {
  readonly service: ServiceRef
  /** The convertor's raw value, passed on unchanged. */
  readonly status: number
  readonly message: string
  /** When the convertor measured the status. */
  readonly timestamp: Date
  /** Why, where the convertor said: matched expression, triggered metrics, region. */
  readonly why?: string
  /** The reading it comes from, for targets that carry its details apart (PagerDuty's `custom_details`). */
  readonly reading?: Health
  /**
   * The status last delivered to this target for this service (0 or absent:
   * none, as far as the policy knows): what this reporter wrote there, so a
   * target may tell its own writing from an operator's (Statuspage).
   */
  readonly previous?: number
  /** Why the policy sent it: a status (a change, or every poll), a reminder, or a recovery. */
  readonly due?: "status" | "reminder" | "resolved"
}

/** What a notification is, as logs name it: a trigger, an update (another status), a repeat, a reminder, or a recovery. */
export const kindOf = (n: Notification): string =>
  n.due === "resolved" || n.status === 0
    ? "recovery"
    : n.due === "reminder"
      ? "reminder"
      : n.previous === undefined || n.previous === 0
        ? "trigger"
        : n.previous === n.status
          ? "repeat"
          : "update"

/** The convertor's explanation, as one line, where it gave one. */
export const whyOf = (health: Health): string | undefined => {
  const parts = [
    ...(health.matchedExpression ? [`matched ${health.matchedExpression}`] : []),
    ...(health.triggeredMetrics.length > 0 ? [`triggered ${health.triggeredMetrics.join(", ")}`] : []),
    ...(health.region ? [`region ${health.region}`] : [])
  ]
  return parts.length === 0 ? undefined : parts.join("; ")
}

export const notificationFor = (service: ServiceRef, health: Health): Notification => {
  const why = whyOf(health)
  return {
    service,
    status: health.status,
    message:
      health.status === 1 ? "Service degraded" : health.status === 2 ? "Service outage" : `Service status ${health.status}`,
    timestamp: health.timestamp,
    reading: health,
    ...(why === undefined ? {} : { why })
  }
}

/**
 * At most `max` characters, the cut marked with an ellipsis: a convertor's
 * million-character expression must not become a million-character
 * message, summary or log line.
 */
export const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`)

/** `2024-01-20T12:00:00Z`: what docs/protocols.md shows, without milliseconds. */
export const isoSeconds = (millis: number): string => {
  const seconds = Math.floor(millis / 1000)
  let text = recentSeconds.get(seconds)
  if (text === undefined) {
    text = new Date(seconds * 1000).toISOString().replace(".000Z", "Z")
    if (recentSeconds.size >= 16) recentSeconds.clear()
    recentSeconds.set(seconds, text)
  }
  return text
}

/** A cycle asks for the same few seconds over and over (every window's bounds): each is formatted once. */
const recentSeconds = new Map<number, string>()

/** `http://user:pa/ss@host` -> `http://***@host`: everything up to the last `@` after the scheme. */
export const hideUserinfo = (text: string): string => text.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)\S*@/i, "$1***@")

/**
 * Only the origin: for a URL whose path may be its credential (a Discord or
 * Slack-style webhook, `…/webhooks/123/T0KEN`), as the userinfo is for others.
 */
export const originOf = (raw: string): string => {
  try {
    const url = new URL(raw)
    return url.pathname === "/" && url.search === "" ? url.origin : `${url.origin}/<path hidden>`
  } catch {
    return "<invalid url>"
  }
}

/** Userinfo and query removed: what of a URL may appear in a log line. */
/** The monitoring itself, as a service: what the blind notices are about (Blind.ts). */
export const MONITORING: ServiceRef = { name: "cloudmon-metrics-reporter", environment: "monitoring" }

export const safeUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    url.username = ""
    url.password = ""
    url.search = ""
    return url.toString().replace(/\/$/, "")
  } catch {
    return "<invalid url>"
  }
}

/** Edit distance between two strings (insertions, deletions, substitutions). */
export const levenshtein = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

/** Up to `n` of `candidates` nearest to `name` (case aside), near enough to be a likely meaning of it. */
export const closest = (name: string, candidates: Iterable<string>, n: number): ReadonlyArray<string> =>
  [...candidates]
    .map((c) => ({ c, d: levenshtein(name.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.floor(Math.max(name.length, c.length) / 2)))
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : 1))
    .slice(0, n)
    .map(({ c }) => c)
