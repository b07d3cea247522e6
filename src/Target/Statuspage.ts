/**
 * Atlassian Statuspage (docs/protocols.md §4; the Statuspage API reference,
 * developer.statuspage.io: "Components" and "Incidents"): each service's
 * component is set to a status with `PATCH /pages/{page_id}/components/{id}`,
 * and only where what it shows is ours to change. At most one request per
 * second per API key across the whole process; 420 and 429 are retried after
 * `Retry-After`.
 *
 * We own only what we wrote. Before writing, the component is read (`GET
 * /pages/{page_id}/components/{id}`) and written only when it shows
 * `operational` or the status this reporter last delivered there (the
 * policy's `previous`); `under_maintenance` set by anyone else is never
 * replaced, nor a status an operator set by hand. A component in an
 * unresolved incident (`GET /pages/{page_id}/incidents/unresolved`, read at
 * most once a minute) is the incident's: this reporter opens none, so it is
 * left alone. Either is said once at info, then at debug, and stays due.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { type Adapter, DELIVERED, type Delivery, type TargetError, type TargetPort } from "../Target.js"
import { type Notification, safeUrl, serviceKey } from "../Domain.js"
import { badResponse } from "../PeerError.js"
import { forSecret, RateLimits } from "../RateLimits.js"
import type { Request } from "../Transport.js"
import { type Held, type Hold, withHolds } from "./Holds.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

type Settings = SettingsOf<"statuspage">
type ComponentStatus = Settings["status"][string]

/** One request per second per key (Statuspage allows 60 a rolling minute). */
export const PER_KEY = { limit: 1, interval: Duration.seconds(1) } as const

/** How long the page's unresolved incidents are taken as known. */
const INCIDENTS_FRESH = Duration.minutes(1)

const decodeComponent = Schema.decodeUnknownOption(Schema.parseJson(Schema.Struct({ status: Schema.String })))
const decodeIncidents = Schema.decodeUnknownOption(
  Schema.parseJson(
    Schema.Array(
      Schema.Struct({
        id: Schema.String,
        name: Schema.optionalWith(Schema.String, { default: () => "" }),
        components: Schema.optionalWith(Schema.Array(Schema.Struct({ id: Schema.String })), { default: () => [] })
      })
    )
  )
)

/** A 401/403 is the key, for every component; a 404, 400 or 422 is about this component (a wrong id). */
const hold = (e: TargetError): Hold | undefined =>
  e.reason === "AuthFailed" ? { kind: "refused", scope: "target" } : e.reason === "Rejected" ? { kind: "refused", scope: "service" } : undefined

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
      const sender = yield* makeSender(spec, budget, { peer: `${safeUrl(s.url)} (page ${s.page_id})`, authHint: `check ${spec.path}.api_key`, gate: limiter, limit: "Statuspage's 1 request a second per API key" })
      const page = `${s.url}/pages/${encodeURIComponent(s.page_id)}`
      const auth = { authorization: `OAuth ${Redacted.value(key)}` }
      const statusOf = (status: number): ComponentStatus =>
        s.status[String(status)] ?? (status === 0 ? "operational" : status === 1 ? "degraded_performance" : "major_outage")
      const requestOf = (n: Notification, id: string): Request => ({
        method: "PATCH",
        url: `${page}/components/${encodeURIComponent(id)}`,
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ component: { status: statusOf(n.status) } })
      })
      const skipped = (n: Notification) =>
        ({ _tag: "Skipped", why: `no Statuspage component configured for ${serviceKey(n.service)}`, level: "debug", final: true }) as const

      const read = <A>(n: Notification, path: string, decode: (body: string) => Option.Option<A>) =>
        sender.exchange(n, () => Effect.succeed<Request>({ method: "GET", url: `${page}${path}`, headers: auth }), (reply, now) =>
          Effect.flatMap(sender.judgeStatus(n, reply, now), () =>
            Option.match(decode(reply.body), {
              onNone: () => Effect.fail(sender.fail(n, badResponse(`its answer to GET ${path} is not what the API documents`))),
              onSome: (a) => Effect.succeed(a)
            })
          )
        )

      let incidents: { readonly at: number; readonly list: ReadonlyArray<{ readonly id: string; readonly name: string; readonly components: ReadonlyArray<{ readonly id: string }> }> } | undefined
      // One read at a time: notifications arriving together wait for it rather than each asking.
      const incidentsRead = yield* Effect.makeSemaphore(1)
      const unresolved = (n: Notification) =>
        incidentsRead.withPermits(1)(
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            incidents !== undefined && now - incidents.at < Duration.toMillis(INCIDENTS_FRESH)
              ? Effect.succeed(incidents.list)
              : Effect.map(read(n, "/incidents/unresolved", decodeIncidents), (list) => ((incidents = { at: now, list }), list))
          )
        )

      /** Said once at info, then at debug: what an operator set is left as it is, and stays due. */
      const said = new Set<string>()
      const leftAlone = (n: Notification, id: string, why: string): Delivery => {
        const first = !said.has(`${id}\u0000${why}`)
        said.add(`${id}\u0000${why}`)
        return { _tag: "Skipped", why: `component ${id} (${serviceKey(n.service)}) ${why}: left as it is`, level: first ? "info" : "debug", final: false }
      }

      const notify = (n: Notification): Effect.Effect<Delivery, TargetError> => {
        const id = s.components[serviceKey(n.service)]
        if (id === undefined) return Effect.succeed(skipped(n))
        return Effect.gen(function* () {
          const wanted = statusOf(n.status)
          const current = (yield* read(n, `/components/${encodeURIComponent(id)}`, decodeComponent)).status
          const ours = n.previous !== undefined && n.previous > 0 ? statusOf(n.previous) : undefined
          // Already showing it: ours (or operational, as a recovery wants) is done; someone else's is not claimed.
          if (current === wanted) {
            return current === "operational" || current === ours
              ? DELIVERED
              : ({ _tag: "Skipped", why: `component ${id} (${serviceKey(n.service)}) already shows ${current}, set by someone else: not taken as ours`, level: "debug", final: false } as const)
          }
          if (current !== "operational" && current !== ours) {
            return leftAlone(n, id, current === "under_maintenance" ? "is under maintenance" : `shows ${current}, which this reporter did not set`)
          }
          const incident = (yield* unresolved(n)).find((i) => i.components.some((c) => c.id === id))
          if (incident !== undefined) return leftAlone(n, id, `is in the unresolved incident ${incident.id}${incident.name ? ` "${incident.name}"` : ""}, which this reporter did not open`)
          yield* sender.send(n, () => Effect.succeed(requestOf(n, id)))
          return DELIVERED
        })
      }

      const port: TargetPort = {
        name: spec.name,
        target: `Statuspage page ${s.page_id}`,
        notify,
        rehearse: (n) => {
          const id = s.components[serviceKey(n.service)]
          if (id === undefined) return Effect.succeed(`nothing: ${skipped(n).why}`)
          const r = requestOf(n, id)
          return Effect.succeed(`${r.method} ${safeUrl(r.url)} ${r.body} (if the component shows operational, or what this reporter set)`)
        }
      }
      // Holds outlive a reload: a SIGHUP does not lift one (Slack warns about hammering a failing webhook).
      return withHolds(port, hold, (yield* RateLimits).carried<string, Held>(`holds:${spec.type}:${spec.name}`))
    })
}
