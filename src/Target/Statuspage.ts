/**
 * Atlassian Statuspage (docs/protocols.md §4): each service's component is
 * set to a status with `PATCH /pages/{page_id}/components/{id}`. At most one
 * request per second per API key across the whole process; 420 and 429 are
 * retried after `Retry-After`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Adapter, DELIVERED } from "../Target.js"
import { type Notification, safeUrl, serviceKey } from "../Domain.js"
import { forSecret } from "../RateLimits.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

type Settings = SettingsOf<"statuspage">
type ComponentStatus = Settings["status"][string]

/** One request per second per key (Statuspage allows 60 a rolling minute). */
export const PER_KEY = { limit: 1, interval: Duration.seconds(1) } as const

export const Statuspage: Adapter<Settings> = {
  readOnly: (spec) =>
    Effect.succeed({
      request: {
        method: "GET",
        url: `${spec.settings.url}/pages/${encodeURIComponent(spec.settings.page_id)}`,
        headers: { authorization: `OAuth ${Redacted.value(spec.secrets["api_key"]!)}` }
      },
      what: `GET /pages/${spec.settings.page_id}`
    }),
  make: (spec, { budget, services }) =>
    Effect.gen(function* () {
      const s = spec.settings
      const key = spec.secrets["api_key"]!
      // Targets sharing a key share its limit.
      const limiter = yield* forSecret("statuspage", key, PER_KEY.limit, PER_KEY.interval)
      for (const service of services) {
        if (s.components[serviceKey(service)] === undefined) {
          yield* Effect.logWarning(
            `${spec.path} (statuspage): no component id for ${serviceKey(service)} in ${spec.path}.components: its status is not sent to Statuspage`
          )
        }
      }
      const sender = yield* makeSender(spec, budget, { peer: `${safeUrl(s.url)} (page ${s.page_id})`, authHint: `check ${spec.path}.api_key`, gate: limiter })
      const statusOf = (n: Notification): ComponentStatus =>
        s.status[String(n.status)] ?? (n.status === 0 ? "operational" : n.status === 1 ? "degraded_performance" : "major_outage")
      const requestOf = (n: Notification, id: string) => ({
        method: "PATCH",
        url: `${s.url}/pages/${encodeURIComponent(s.page_id)}/components/${encodeURIComponent(id)}`,
        headers: { authorization: `OAuth ${Redacted.value(key)}`, "content-type": "application/json" },
        body: JSON.stringify({ component: { status: statusOf(n) } })
      }) as const
      const skipped = (n: Notification) =>
        ({ _tag: "Skipped", why: `no Statuspage component configured for ${serviceKey(n.service)}`, level: "debug", final: true }) as const
      return {
        name: spec.name,
        target: `Statuspage page ${s.page_id}`,
        notify: (n) => {
          const id = s.components[serviceKey(n.service)]
          return id === undefined ? Effect.succeed(skipped(n)) : Effect.as(sender.send(n, () => Effect.succeed(requestOf(n, id))), DELIVERED)
        },
        rehearse: (n) => {
          const id = s.components[serviceKey(n.service)]
          if (id === undefined) return Effect.succeed(`nothing: ${skipped(n).why}`)
          const r = requestOf(n, id)
          return Effect.succeed(`${r.method} ${safeUrl(r.url)} ${r.body}`)
        }
      }
    })
}
