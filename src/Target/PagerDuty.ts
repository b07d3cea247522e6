/**
 * PagerDuty Events API v2 (docs/protocols.md §5): a `trigger` event per
 * notification, de-duplicated by `service/environment`. The routing key
 * travels in the body, so a rehearsal shows it redacted. 202 is success, 400
 * is not retried, 429 and 5xx are.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Adapter } from "../Target.js"
import { clip, type Notification, safeUrl, serviceKey, statusLabel } from "../Domain.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

/** PagerDuty's Events API v2 documents `payload.summary` as at most 1024 characters (docs/protocols.md §5). */
export const MAX_SUMMARY = 1024

/** `api in production: outage (why)`: what the person paged reads first, cut (and marked) at the documented length. */
export const summaryOf = (n: Notification): string =>
  clip(`${n.service.name} in ${n.service.environment}: ${statusLabel(n.status)}${n.why ? ` (${n.why})` : ""}`, MAX_SUMMARY)

export const PagerDuty: Adapter<SettingsOf<"pagerduty">> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const s = spec.settings
      const routingKey = spec.secrets["routing_key"]!
      const sender = yield* makeSender(spec, budget, { peer: safeUrl(s.url), authHint: `check ${spec.path}.routing_key` })
      // A recovery resolves the incident its triggers opened: the same dedup_key.
      const bodyOf = (n: Notification, key: string) =>
        n.status === 0
          ? { routing_key: key, event_action: "resolve", dedup_key: serviceKey(n.service) }
          : {
              routing_key: key,
              event_action: "trigger",
              dedup_key: serviceKey(n.service),
              payload: {
                summary: summaryOf(n),
                source: "cloudmon-metrics-reporter",
                severity: s.severity[String(n.status)] ?? (n.status >= 2 ? "critical" : "warning"),
                component: n.service.name,
                group: n.service.environment
              }
            }
      return {
        name: spec.name,
        target: `PagerDuty at ${safeUrl(s.url)}`,
        notify: (n) =>
          sender.send(n, () =>
            Effect.succeed({
              method: "POST",
              url: s.url,
              headers: { "content-type": "application/json" },
              body: JSON.stringify(bodyOf(n, Redacted.value(routingKey)))
            })
          ),
        rehearse: (n) => Effect.succeed(`POST ${safeUrl(s.url)} ${JSON.stringify(bodyOf(n, "<redacted>"))}`)
      }
    })
}
