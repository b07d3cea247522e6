/**
 * PagerDuty Events API v2 (docs/protocols.md §5; PagerDuty's own pages:
 * developer-docs `docs/events-API-v2/`, and the OpenAPI file
 * `PagerDuty/api-schema` `reference/events-v2/openapiv3.json`): a `trigger`
 * per notification, de-duplicated by `service/environment`, carrying what
 * the on-call engineer needs (when it was detected, the convertor's why in
 * `custom_details`, who sent it and where to look), each field within the
 * documented limits. The routing key travels in the body, so a rehearsal
 * shows it redacted.
 *
 * - 202 is success; 400 ("Check that the JSON is valid", with `errors[]`) is
 *   a refusal: said with PagerDuty's own words, and the target is held back
 *   (Target/Holds.ts).
 * - 429: not retried within the cycle; PagerDuty suggests 30 s apart
 *   (developer-docs:docs/events-API-v2/05-Rate-Limits.md:23) or minutes (developer-docs:docs/events-API-v2/01-Overview.md:81): the target is
 *   held back from 30 s on, and what is due stays due.
 * - About 120 events a minute per integration key (developer-docs:docs/events-API-v2/05-Rate-Limits.md:12):
 *   a limiter per routing key (PER_KEY), shared by every target using it.
 * - A resolve goes with the routing key its trigger used: a reload that
 *   rotates the key still resolves what the old key opened (kept in memory
 *   for the life of the process, never written).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { type Adapter, type Delivery, type TargetError, type TargetPort } from "../Target.js"
import { clip, type Notification, safeUrl, serviceKey, statusLabel } from "../Domain.js"
import { fromReply, peerMessage } from "../PeerError.js"
import { forSecret, RateLimits } from "../RateLimits.js"
import type { Reply } from "../Transport.js"
import { type Held, type Hold, withHolds } from "./Holds.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

/** `payload.summary` is at most 1024 characters (developer-docs:docs/events-API-v2/02-Trigger-Events.md:20). */
export const MAX_SUMMARY = 1024
/** Each of our `custom_details` at most this long, and at most MAX_METRICS metrics: far within the 512 KB a payload may be (developer-docs:docs/events-API-v2/01-Overview.md:93). */
export const MAX_DETAIL = 1024
export const MAX_METRICS = 100

/**
 * About 120 events a minute per integration key, counted over the 60 s
 * looking back (developer-docs:docs/events-API-v2/05-Rate-Limits.md:12): a bucket of 60 refilled one a second,
 * so a burst of 60 goes at once and no minute ever holds more than 120.
 */
export const PER_KEY = { limit: 60, interval: Duration.minutes(1) } as const

/** `api in production: outage (why)`: what the person paged reads first, cut (and marked) at the documented length. */
export const summaryOf = (n: Notification): string =>
  clip(`${n.service.name} in ${n.service.environment}: ${statusLabel(n.status)}${n.why ? ` (${n.why})` : ""}`, MAX_SUMMARY)

/** The reading, as fields an on-call engineer can filter on; every one bounded. */
export const customDetailsOf = (n: Notification): Record<string, unknown> => {
  const r = n.reading
  return {
    service: clip(n.service.name, MAX_DETAIL),
    environment: clip(n.service.environment, MAX_DETAIL),
    status: n.status,
    status_label: statusLabel(n.status),
    ...(r?.region ? { region: clip(r.region, MAX_DETAIL) } : {}),
    ...(r?.matchedExpression ? { matched_expression: clip(r.matchedExpression, MAX_DETAIL) } : {}),
    ...(r !== undefined && r.triggeredMetrics.length > 0
      ? {
          triggered_metrics: r.triggeredMetrics.slice(0, MAX_METRICS).map((m) => clip(m, MAX_DETAIL)),
          ...(r.triggeredMetrics.length > MAX_METRICS ? { triggered_metrics_total: r.triggeredMetrics.length } : {})
        }
      : {})
  }
}

/** The error body: `{status, message, errors: [...]}` (api-schema openapiv3.json, components.responses.Error). */
const decodeError = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ message: Schema.optional(Schema.String), errors: Schema.optional(Schema.Array(Schema.String)) }))
)

/** A 400 is the key or the event, for every event alike: the target is held back. A 429 slows the target down. */
const hold = (e: TargetError): Hold | undefined =>
  e.status === 429 ? { kind: "throttled", scope: "target" } : e.reason === "Rejected" || e.reason === "AuthFailed" ? { kind: "refused", scope: "target" } : undefined

export const PagerDuty: Adapter<SettingsOf<"pagerduty">> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const s = spec.settings
      const routingKey = spec.secrets["routing_key"]!
      const limiter = yield* forSecret("pagerduty", routingKey, PER_KEY.limit, PER_KEY.interval, "token-bucket")
      const sender = yield* makeSender(spec, budget, { peer: safeUrl(s.url), authHint: `check ${spec.path}.routing_key`, gate: limiter, limit: "PagerDuty's 120 events a minute per routing key" })
      /** The routing key each open alert was triggered with, by dedup_key: outlives a reload (RateLimits.ts). */
      const triggeredWith = (yield* RateLimits).carried<string, Redacted.Redacted<string>>(`pagerduty-open:${spec.name}:${s.url}`)

      const bodyOf = (n: Notification, key: string) =>
        n.status === 0
          ? { routing_key: key, event_action: "resolve", dedup_key: serviceKey(n.service) }
          : {
              routing_key: key,
              event_action: "trigger",
              dedup_key: serviceKey(n.service),
              // `client` and `client_url` belong to trigger events only (openapiv3.json, /enqueue requestBody).
              client: s.client,
              ...(s.client_url === undefined ? {} : { client_url: s.client_url }),
              payload: {
                summary: summaryOf(n),
                // When the reading was taken: an event held back across cycles shows when it was detected (developer-docs:docs/events-API-v2/01-Overview.md:105).
                timestamp: n.timestamp.toISOString(),
                source: "cloudmon-metrics-reporter",
                severity: s.severity[String(n.status)] ?? (n.status >= 2 ? "critical" : "warning"),
                component: clip(n.service.name, MAX_DETAIL),
                group: clip(n.service.environment, MAX_DETAIL),
                custom_details: customDetailsOf(n)
              }
            }

      /** 202 is delivered; a 400 keeps PagerDuty's own words; a 429 is not retried here (the hold waits instead). */
      const judge = (n: Notification) => (reply: Reply, now: number): Effect.Effect<Delivery, TargetError> => {
        if (reply.status !== 400 && reply.status !== 429) return sender.judgeStatus(n, reply, now)
        const failure = fromReply(reply, `${spec.path}.url`, now)
        const said = Option.getOrUndefined(decodeError(reply.body))
        const words = said === undefined ? peerMessage(reply.body) : [said.message ?? "", ...(said.errors ?? [])].filter((w) => w !== "").map(peerMessage).join(": ")
        return Effect.fail(
          sender.fail(n, {
            ...failure,
            ...(reply.status === 429 ? { retryable: false, detail: "too many events (429)" } : { detail: words === "" ? failure.detail : words })
          })
        )
      }

      const notify = (n: Notification): Effect.Effect<Delivery, TargetError> => {
        const dedup = serviceKey(n.service)
        // A resolve goes with the key that opened the alert, if this process opened it with another.
        const key = n.status === 0 ? (triggeredWith.get(dedup) ?? routingKey) : routingKey
        return sender
          .send(n, () => Effect.succeed({ method: "POST", url: s.url, headers: { "content-type": "application/json" }, body: JSON.stringify(bodyOf(n, Redacted.value(key))) }), judge(n))
          .pipe(Effect.tap(() => Effect.sync(() => (n.status === 0 ? triggeredWith.delete(dedup) : triggeredWith.set(dedup, routingKey)))))
      }

      const port: TargetPort = {
        name: spec.name,
        target: `PagerDuty at ${safeUrl(s.url)}`,
        notify,
        rehearse: (n) => Effect.succeed(`POST ${safeUrl(s.url)} ${JSON.stringify(bodyOf(n, "<redacted>"))}`)
      }
      // Holds outlive a reload: a SIGHUP does not lift one (Slack warns about hammering a failing webhook).
      return withHolds(port, hold, (yield* RateLimits).carried<string, Held>(`holds:${spec.type}:${spec.name}`))
    })
}
