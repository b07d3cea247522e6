/**
 * Stackmon API v2 (the Go server, status-dashboard-v3): the dashboard shows
 * what the convertor says for each managed component, and only incidents
 * the monitoring opened are ever changed. Each rule it leans on is in
 * docs/stackmon-servers.md, with the server's line.
 *
 * - Unhealthy: `POST /v2/events` with `system: true` at the mapped impact.
 *   The server puts the component into the open system incident of that
 *   impact, or opens one, or raises the one it is in (v2.go:537-680). The
 *   id it answers may be a person's incident on the component (v2.go:469-479):
 *   that one is read (`GET /v2/events/{id}`, `system: false`) and left alone.
 * - Lower impact: the server never lowers on a POST (v2.go:506-515). Alone
 *   in its incident, the component's incident is `PATCH`ed `impact changed`
 *   (v2.go:1076-1083); sharing it, the component is extracted
 *   (`POST /v2/events/{id}/extract`, v2.go:1130-1187), that part closed,
 *   and the lower impact posted.
 * - Healthy: alone, its incident is `PATCH`ed `resolved` (v2.go:1125-1127);
 *   sharing it, the component is extracted and only that part closed, so
 *   the others' incident stays open.
 * - What it opened is read back at start-up and after a reload
 *   (`GET /v2/events?type=incident&active=true&system=true`, v2.go:60-126,
 *   185-250): a restart forgets nothing the dashboard shows.
 *
 * Before changing an incident it is read afresh: one a person has since
 * taken the component into, or closed, is forgotten, never touched.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DELIVERED, type Delivery, type TargetError } from "../../Target.js"
import { isoSeconds, type Notification } from "../../Domain.js"
import { badResponse, peerMessage } from "../../PeerError.js"
import type { Reply, Request } from "../../Transport.js"
import { impactLabel, type WriterOptions } from "./Api.js"
import { type Component, describeComponent } from "./Components.js"

/** An event as `GET /v2/events/{id}`, PATCH and extract answer it (v2.go:24-58, 275-302); `end_date` is left out while open. */
const Event = Schema.Struct({
  id: Schema.Number,
  title: Schema.optionalWith(Schema.String, { default: () => "" }),
  impact: Schema.Number,
  components: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Number)), { default: () => [] }),
  system: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  end_date: Schema.optional(Schema.NullOr(Schema.String)),
  updates: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Struct({ status: Schema.String, text: Schema.String }))), { default: () => [] })
})
type Event = typeof Event.Type
const decodeEvent = Schema.decodeUnknownOption(Schema.parseJson(Event))
const decodePage = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ data: Schema.Array(Event), pagination: Schema.optional(Schema.Struct({ totalPages: Schema.Number })) }))
)
/** `{"result":[{component_id, incident_id?, error?}]}`, one entry per component (v2.go:829-837). */
const decodeResult = Schema.decodeUnknownOption(
  Schema.parseJson(
    Schema.Struct({
      result: Schema.Array(Schema.Struct({ component_id: Schema.Number, incident_id: Schema.optional(Schema.Number), error: Schema.optional(Schema.String) }))
    })
  )
)

const isOpen = (e: Event) => e.end_date === undefined || e.end_date === null
const componentsOf = (e: Event): ReadonlyArray<number> => e.components ?? []

/** The title of what the monitoring opens: an extracted part keeps it (db.go:547-557). */
const TITLE = "System incident from monitoring system"

/** The dashboard's outage: the only impact its availability counts (v2.go:1449-1452). */
const OUTAGE = 3

/**
 * A part this reporter extracted from a system incident and did not get to
 * close (its answer lost, a restart in between): not a system incident
 * (db.go:554), but ours by its marks: our title, and the server's own
 * "moved from" update (status `SYSTEM`, db.go:564-572; event.go:12).
 */
const isOurPart = (e: Event) =>
  !e.system && e.title === TITLE && (e.updates ?? []).some((u) => u.status === "SYSTEM" && u.text.includes(" moved from "))

/** The `components` filter takes ids 1..2048 (validation.go:58-77). */
const FILTERABLE = 2048

/** The incident of ours a component is in, as far as this process knows. */
interface Ours {
  readonly incident: number
  readonly impact: number
}

/** Pages read at start-up, at most (50 events each, v2.go:145-149). */
const MAX_PAGES = 100

export const makeV2 = (o: WriterOptions) => {
  const ours = new Map<number, Ours>()
  /** Incidents this process extracted: not system incidents (db.go:547-557), but ours to close. */
  const extracted = new Set<number>()
  /** A person's incident on a component is said once at info, then at debug. */
  const said = new Set<string>()

  const request = (n: Notification, method: Request["method"], path: string, body?: unknown) => (now: number) =>
    Effect.map(o.headers(n, now), (h): Request => ({ method, url: `${o.url}${path}`, headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }))

  const unreadable = (n: Notification, what: string) => Effect.fail(o.sender.fail(n, badResponse(`its answer to ${what} is not what the API documents`)))

  /** The event, or none when the dashboard has no such id (404, middleware.go:172-176). */
  const getEvent = (n: Notification, id: number) =>
    o.sender.exchange(n, request(n, "GET", `/v2/events/${id}`), (reply: Reply, now) => {
      if (reply.status === 404) return Effect.succeed(Option.none<Event>())
      return Effect.flatMap(o.sender.judgeStatus(n, reply, now), () =>
        Option.match(decodeEvent(reply.body), { onNone: () => unreadable(n, `GET /v2/events/${id}`), onSome: (e) => Effect.succeed(Option.some(e)) })
      )
    })

  /** PATCH needs `message`, `status`, `update_date` (v2.go:936-946); `impact` only with `impact changed` (v2.go:1076-1079). */
  const patch = (n: Notification, id: number, fields: { readonly status: "resolved" | "impact changed"; readonly message: string; readonly impact?: number }) =>
    o.sender.exchange(
      n,
      (now) => request(n, "PATCH", `/v2/events/${id}`, { ...fields, update_date: isoSeconds(now) })(now),
      (reply, now) => o.sender.judgeStatus(n, reply, now)
    )

  /** Moves the component out into a new incident of the same impact, `system: false` (db.go:547-557). */
  const extract = (n: Notification, id: number, component: number) =>
    o.sender.exchange(n, request(n, "POST", `/v2/events/${id}/extract`, { components: [component] }), (reply, now) =>
      Effect.flatMap(o.sender.judgeStatus(n, reply, now), () =>
        Option.match(decodeEvent(reply.body), { onNone: () => unreadable(n, `POST /v2/events/${id}/extract`), onSome: Effect.succeed })
      )
    )

  const isMine = (e: Event) => e.system || extracted.has(e.id) || isOurPart(e)

  /** The incident of ours the component is in, read afresh; forgotten when it is closed, gone, or no longer holds it. */
  const current = (n: Notification, c: Component) =>
    Effect.gen(function* () {
      const known = ours.get(c.id)
      if (known === undefined) return Option.none<Event>()
      const event = yield* getEvent(n, known.incident)
      const mine = Option.filter(event, (e) => isOpen(e) && componentsOf(e).includes(c.id) && isMine(e))
      if (Option.isNone(mine)) ours.delete(c.id)
      return mine
    })

  /**
   * The component leaves its incident, which stays open for any other
   * component in it: closed when the component is its only one, otherwise
   * the component is extracted and only that new incident closed.
   */
  const leave = (n: Notification, c: Component, event: Event, message: string) =>
    Effect.gen(function* () {
      if (componentsOf(event).length <= 1) {
        yield* patch(n, event.id, { status: "resolved", message })
      } else {
        const part = yield* extract(n, event.id, c.id)
        // Until it is closed, the extracted part is ours (a failure here leaves it to the next try).
        extracted.add(part.id)
        ours.set(c.id, { incident: part.id, impact: part.impact })
        yield* patch(n, part.id, { status: "resolved", message })
        extracted.delete(part.id)
      }
      ours.delete(c.id)
    })

  /**
   * The open system incident holding the component, asked of the dashboard
   * (`components` filter, v2.go:60-126, validation.go:58-77): one this process
   * does not know of (opened before a reload was taken up, or by another
   * writer of system incidents) is still the monitoring's to close.
   */
  const lookup = (n: Notification, c: Component) =>
    c.id > FILTERABLE
      ? Effect.succeed(Option.none<Event>())
      : o.sender.exchange(n, request(n, "GET", `/v2/events?type=incident&active=true&components=${c.id}&limit=50`), (reply, now) =>
          Effect.flatMap(o.sender.judgeStatus(n, reply, now), () =>
            Option.match(decodePage(reply.body), {
              onNone: () => unreadable(n, "GET /v2/events"),
              onSome: (page) => Effect.succeed(Option.fromNullable(page.data.find((e) => isOpen(e) && isMine(e) && componentsOf(e).includes(c.id))))
            })
          )
        )

  const recover = (n: Notification, c: Component): Effect.Effect<Delivery, TargetError> =>
    Effect.gen(function* () {
      const known = yield* current(n, c)
      const event = Option.isSome(known) ? known : yield* lookup(n, c)
      if (Option.isNone(event)) {
        return { _tag: "Skipped", why: `no open incident of ours holds component ${describeComponent(c)}: nothing to close`, level: "debug", final: true } as const
      }
      yield* leave(n, c, event.value, `${c.name || `Component ${c.id}`} is healthy again (monitoring).`)
      return DELIVERED
    })

  /** The POST for one component at `impact`; the server's grouping does the rest (v2.go:356-384). */
  const post = (n: Notification, c: Component, impact: number) =>
    o.sender.exchange(
      n,
      (now) =>
        request(n, "POST", "/v2/events", {
          title: TITLE,
          description: "System-wide incident affecting one or multiple components. Created automatically.",
          impact,
          components: [c.id],
          // The reading's time less a second (as upstream), never later than now: the server
          // refuses a start_date after its own clock, with no tolerance (v2.go:873-876).
          start_date: isoSeconds(Math.min(n.timestamp.getTime(), now) - 1000),
          system: true,
          type: "incident"
        })(now),
      (reply, now) =>
        Effect.flatMap(o.sender.judgeStatus(n, reply, now), () =>
          Option.match(
            Option.flatMap(decodeResult(reply.body), (r) => Option.fromNullable(r.result.find((e) => e.component_id === c.id))),
            { onNone: () => unreadable(n, "POST /v2/events"), onSome: Effect.succeed }
          )
        )
    )

  const raise = (n: Notification, c: Component, impact: number, again: boolean): Effect.Effect<Delivery, TargetError> =>
    Effect.gen(function* () {
      const event = yield* current(n, c)
      if (Option.isSome(event) && event.value.impact !== impact) {
        const e = event.value
        const alone = componentsOf(e).length <= 1
        // Lowered in place, alone in a system incident that is not an outage: nothing the availability counts is lost.
        if (e.impact > impact && alone && e.system && e.impact !== OUTAGE) {
          yield* patch(n, e.id, { status: "impact changed", impact, message: `Impact changed from ${impactLabel(e.impact)} to ${impactLabel(impact)} (monitoring).` })
          ours.set(c.id, { incident: e.id, impact })
          return DELIVERED
        }
        // Otherwise this component's part ends here and the new impact is posted below:
        // - an outage is closed as an outage, so the dashboard's availability counts it (v2.go:1449-1452);
        // - a shared incident is never raised or lowered for one component: raising it through the server
        //   could close it with the others inside (v2.go:626-629, db.go:498-519);
        // - a part we extracted is not a system incident: a POST would answer it unchanged (v2.go:469-479).
        // Alone in a system incident, a higher impact is the server's to raise (v2.go:601-680).
        if (e.impact > impact || !alone || !e.system) {
          const name = c.name || `Component ${c.id}`
          yield* leave(n, c, e, e.impact > impact ? `${name}: impact down to ${impactLabel(impact)} (monitoring).` : `${name}: impact up to ${impactLabel(impact)} (monitoring).`)
        }
      }
      const known = ours.get(c.id)
      const entry = yield* post(n, c, impact)
      if (entry.error !== undefined) {
        // A maintenance on the component (v2.go:459-467): nothing was opened; it stays due.
        return { _tag: "Skipped", why: `the dashboard opened no incident for component ${describeComponent(c)}: ${peerMessage(entry.error)}`, level: "info", final: false } as const
      }
      const id = entry.incident_id
      if (id === undefined) return DELIVERED
      // The incident we knew: unchanged (its impact was as high) or raised in place (v2.go:644-654).
      if (known !== undefined && known.incident === id) {
        ours.set(c.id, { incident: id, impact: Math.max(known.impact, impact) })
        return DELIVERED
      }
      const found = yield* getEvent(n, id)
      if (Option.isNone(found)) return DELIVERED
      const e = found.value
      if (!e.system && (extracted.has(e.id) || isOurPart(e)) && again) {
        // A part of ours left open (its close lost, or a restart in between): closed, and the impact posted again.
        yield* patch(n, e.id, { status: "resolved", message: `${c.name || `Component ${c.id}`}: a part the monitoring moved out, closed (monitoring).` })
        extracted.delete(e.id)
        return yield* raise(n, c, impact, false)
      }
      if (!e.system) {
        ours.delete(c.id)
        const key = `${c.id}:${e.id}`
        const first = !said.has(key)
        said.add(key)
        return {
          _tag: "Skipped",
          why: `component ${describeComponent(c)} is in incident ${e.id}, opened by a person: left alone (the monitoring does not change it)`,
          level: first ? "info" : "debug",
          final: false
        } as const
      }
      ours.set(c.id, { incident: e.id, impact: e.impact })
      // Moved to another impact's incident: the old one may be left open and empty (v2.go:626-629 closes
      // the old one only when the *target* had one component; db.go:515-519 removes it otherwise).
      if (known !== undefined) yield* tidy(n, known.incident)
      // Already in a system incident of another impact (put there by another writer): set right once.
      if (e.impact !== impact && again) return yield* raise(n, c, impact, false)
      return DELIVERED
    })

  /** Closes a system incident the monitoring left open with no component in it. */
  const tidy = (n: Notification, id: number) =>
    Effect.flatMap(getEvent(n, id), (old) =>
      Option.isSome(old) && isOpen(old.value) && old.value.system && componentsOf(old.value).length === 0
        ? patch(n, id, { status: "resolved", message: "No component left in this incident (monitoring)." })
        : Effect.void
    )

  return {
    /** The convertor's status for one component, as the component's incident: raised, lowered, or closed. */
    notify: (n: Notification, c: Component, impact: number): Effect.Effect<Delivery, TargetError> =>
      n.status === 0 ? recover(n, c) : raise(n, c, impact, true),

    /** What the notification would send first, for `--dry-run`. */
    describe: (n: Notification, c: Component, impact: number): string => {
      const known = ours.get(c.id)
      if (n.status === 0) return known === undefined ? "nothing: no open incident of ours holds it" : `PATCH /v2/events/${known.incident} resolved (or extract, when shared)`
      if (known !== undefined && known.impact > impact) return `PATCH /v2/events/${known.incident} impact changed to ${impact} (or extract, when shared)`
      return `POST /v2/events {"impact":${impact},"components":[${c.id}],"system":true,"type":"incident"}`
    },

    /**
     * Reads the open system incidents (`GET /v2/events?type=incident&active=true&system=true`,
     * paginated by 50, v2.go:185-250) and takes those holding a managed
     * component as ours. Returns each managed component's impact so found.
     */
    load: (managed: ReadonlySet<number>, get: (path: string) => Effect.Effect<Reply, string>) =>
      Effect.gen(function* () {
        for (let page = 1; page <= MAX_PAGES; page++) {
          const path = `/v2/events?type=incident&active=true&system=true&limit=50&page=${page}`
          const reply = yield* get(path)
          if (reply.status !== 200) return yield* Effect.fail(`GET ${path} answered ${reply.status}${peerMessage(reply.body) ? `: ${peerMessage(reply.body)}` : ""}`)
          const decoded = decodePage(reply.body)
          if (Option.isNone(decoded)) return yield* Effect.fail(`its answer to GET ${path} is not a page of events`)
          for (const e of decoded.value.data) {
            if (!isOpen(e) || !e.system) continue
            for (const id of componentsOf(e)) {
              // Two open system incidents holding one component (a race the server allows): the higher one.
              if (managed.has(id) && e.impact > (ours.get(id)?.impact ?? 0)) ours.set(id, { incident: e.id, impact: e.impact })
            }
          }
          // No match: `{"data":[]}` without `pagination` (v2.go:207-214).
          if (decoded.value.data.length === 0 || page >= (decoded.value.pagination?.totalPages ?? 1)) break
        }
        return new Map([...ours].map(([component, o]) => [component, o.impact]))
      })
  }
}
