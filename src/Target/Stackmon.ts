/**
 * The Stackmon Status Dashboard (docs/protocols.md §3). API v2: the
 * dashboard's components are read at start-up into a cache; a service maps to
 * the component of its name (or `components[name]`) whose attributes include
 * its environment's (`environments[env]`); an incident is `POST /v2/events`.
 * API v1 (legacy): `POST /v1/component_status`. HS256 JWT with the
 * `stackmon` claim when a secret is configured; no secret, no header.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { type Adapter, DELIVERED, type Delivery, TargetStartError } from "../Target.js"
import { isoSeconds, type Notification, safeUrl, serviceKey } from "../Domain.js"
import { peerMessage } from "../PeerError.js"
import { type Reply, type Request, Transport } from "../Transport.js"
import { makeSigner, type SignFailed } from "../Jwt.js"
import type { SettingsOf } from "./registry.js"
import { makeSender, signerFor, signFailed } from "./Sender.js"

const Component = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  attributes: Schema.optionalWith(Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String })), { default: () => [] })
})
type Component = typeof Component.Type
const decodeComponents = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Component)))
const decodeResult = Schema.decodeUnknownOption(
  Schema.parseJson(
    Schema.Struct({
      result: Schema.Array(Schema.Struct({ component_id: Schema.Number, incident_id: Schema.optional(Schema.Number), error: Schema.optional(Schema.String) }))
    })
  )
)

/** Start-up: three attempts, 1 s and 2 s apart (upstream waits 60 s; a daemon that cannot start should say so sooner). */
const STARTUP_RETRY = Schedule.exponential(Duration.seconds(1)).pipe(Schedule.intersect(Schedule.recurs(2)))

const describeAttributes = (attributes: Readonly<Record<string, string>>) =>
  Object.keys(attributes).length === 0 ? "" : ` with ${Object.entries(attributes).map(([k, v]) => `${k}=${v}`).join(", ")}`

export const Stackmon: Adapter<SettingsOf<"stackmon">> = {
  readOnly: (spec) =>
    Effect.gen(function* () {
      if (spec.settings.api !== "v2") return undefined
      const secret = spec.secrets["secret"]
      const signer = secret === undefined ? undefined : yield* makeSigner(secret).pipe(Effect.mapError(() => `${spec.path}.secret cannot be used as an HMAC key`))
      const token = signer === undefined ? undefined : yield* signer.sign({ stackmon: "dummy" }, yield* Clock.currentTimeMillis).pipe(Effect.mapError(() => "could not sign the token"))
      return {
        request: { method: "GET", url: `${spec.settings.url}/v2/components`, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
        what: "GET /v2/components"
      } as const
    }),
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const s = spec.settings
      const peer = safeUrl(s.url)
      const secret = spec.secrets["secret"]
      const signer = secret === undefined ? undefined : yield* signerFor(spec, secret)
      const sender = yield* makeSender(spec, budget, { peer, authHint: `check ${spec.path}.secret` })

      /** With a secret, a fresh token; without one, no Authorization header. Each caller says what a signing failure means. */
      const headers = (now: number): Effect.Effect<Record<string, string>, SignFailed> =>
        signer === undefined
          ? Effect.succeed({ "content-type": "application/json" })
          : Effect.map(signer.sign({ stackmon: "dummy" }, now), (token) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" }))
      const headersFor = (n: Notification, now: number) => headers(now).pipe(Effect.mapError(() => signFailed(sender, n)))

      const readComponents = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const h = yield* headers(now).pipe(Effect.mapError(() => "could not sign the token"))
        const reply = yield* transport
          .exchange({ method: "GET", url: `${s.url}/v2/components`, headers: h }, { timeout: s.timeout, maxBytes: 4 * 1024 * 1024 })
          .pipe(Effect.mapError((fault) => fault.detail))
        if (reply.status !== 200) return yield* Effect.fail(`answered ${reply.status}${peerMessage(reply.body) ? `: ${peerMessage(reply.body)}` : ""}`)
        const components = decodeComponents(reply.body)
        if (components._tag === "Left") return yield* Effect.fail("its answer is not a list of components")
        return components.right
      })

      const cache = yield* Ref.make<ReadonlyArray<Component>>([])
      if (s.api === "v2") {
        const first = yield* readComponents.pipe(
          Effect.retry(STARTUP_RETRY),
          Effect.mapError(
            (why) =>
              new TargetStartError({
                message: `Stackmon dashboard at ${peer} (${spec.path}): could not read its components (GET /v2/components) in 3 attempts: ${why}; check ${spec.path}.url and that the dashboard is up`
              })
          )
        )
        yield* Ref.set(cache, first)
        yield* Effect.logInfo(`Stackmon dashboard at ${peer}: ${first.length} component(s) read`)
      }

      const wanted = (n: Notification) => ({
        name: s.components[n.service.name] ?? n.service.name,
        attributes: s.environments[n.service.environment] ?? {}
      })
      const matches = (c: Component, w: ReturnType<typeof wanted>) =>
        c.name === w.name && Object.entries(w.attributes).every(([k, v]) => c.attributes.some((a) => a.name === k && a.value === v))
      const find = (w: ReturnType<typeof wanted>) => Effect.map(Ref.get(cache), (all) => Option.fromNullable(all.find((c) => matches(c, w))))

      /** The component, from the cache or, on a miss, from the dashboard read once more. */
      const componentFor = (n: Notification) =>
        Effect.gen(function* () {
          const w = wanted(n)
          const cached = yield* find(w)
          if (Option.isSome(cached)) return cached
          const fresh = yield* Effect.either(readComponents)
          if (fresh._tag === "Right") yield* Ref.set(cache, fresh.right)
          return yield* find(w)
        })

      const eventBody = (n: Notification, id: number) => ({
        title: "System incident from monitoring system",
        description: "System-wide incident affecting one or multiple components. Created automatically.",
        impact: n.status,
        components: [id],
        // Upstream: the metric's time minus one second, never in the future.
        start_date: isoSeconds(n.timestamp.getTime() - 1000),
        system: true,
        type: "incident"
      })
      const v1Body = (n: Notification) => ({
        name: wanted(n).name,
        impact: n.status,
        attributes: Object.entries(wanted(n).attributes).map(([name, value]) => ({ name, value }))
      })

      /** The incident each component's last event opened, to close on recovery. */
      const incidents = yield* Ref.make<ReadonlyMap<number, number>>(new Map())

      /** A result entry with `error` (the component is under maintenance) is said, and is not a failure. */
      const judgeEvent = (n: Notification, id: number) => (reply: Reply, now: number): Effect.Effect<Delivery, ReturnType<typeof signFailed>> =>
        Effect.flatMap(sender.judgeStatus(n, reply, now), (delivery) => {
          const entry = Option.flatMap(decodeResult(reply.body), (r) => Option.fromNullable(r.result.find((e) => e.component_id === id)))
          if (Option.isSome(entry) && entry.value.error !== undefined) {
            return Effect.succeed<Delivery>({ _tag: "Skipped", why: `the dashboard did not open an incident for component ${id}: ${peerMessage(entry.value.error)}`, level: "info", final: false })
          }
          const incident = Option.flatMap(entry, (e) => Option.fromNullable(e.incident_id))
          return Option.match(incident, {
            onNone: () => Effect.succeed(delivery),
            onSome: (incidentId) => Effect.as(Ref.update(incidents, (all) => new Map(all).set(id, incidentId)), delivery)
          })
        })

      /** A recovery closes the incident this reporter opened for the component, when its id is known. */
      const resolveIncident = (n: Notification, componentId: number): Effect.Effect<Delivery, ReturnType<typeof signFailed>> =>
        Effect.flatMap(Ref.get(incidents), (all) => {
          const incidentId = all.get(componentId)
          if (incidentId === undefined) {
            return Effect.succeed<Delivery>({ _tag: "Skipped", why: `no open incident of ours is known for component ${componentId}`, level: "debug", final: true })
          }
          const body = (now: number) => JSON.stringify({ message: "Service recovered", status: "resolved", update_date: isoSeconds(now) })
          const forget = Ref.update(incidents, (m) => {
            const next = new Map(m)
            next.delete(componentId)
            return next
          })
          return sender.send(n, (now) => Effect.map(headersFor(n, now), (h) => ({ method: "PATCH", url: `${s.url}/v2/events/${incidentId}`, headers: h, body: body(now) }))).pipe(
            Effect.tap(() => forget),
            // Refused for good (closed by hand, gone): asking again every poll would not change that.
            Effect.catchIf(
              (e) => e.reason === "Rejected",
              (e) => Effect.as(forget, { _tag: "Skipped", why: `the dashboard refused to close incident ${incidentId} (${e.status ?? "?"}): perhaps it was closed by hand`, level: "warn", final: true } as const)
            )
          )
        })
      /** v1: 409 means an incident at this impact or higher is already open: what we wanted. */
      const judgeV1 = (n: Notification) => (reply: Reply, now: number) =>
        reply.status === 409 ? Effect.succeed(DELIVERED) : sender.judgeStatus(n, reply, now)

      const request = (n: Notification, id: number | undefined) => (now: number): Effect.Effect<Request, ReturnType<typeof signFailed>> =>
        Effect.map(headersFor(n, now), (h) =>
          id === undefined
            ? { method: "POST", url: `${s.url}/v1/component_status`, headers: h, body: JSON.stringify(v1Body(n)) }
            : { method: "POST", url: `${s.url}/v2/events`, headers: h, body: JSON.stringify(eventBody(n, id)) }
        )

      const missing = (n: Notification): Extract<Delivery, { _tag: "Skipped" }> => {
        const w = wanted(n)
        return {
          _tag: "Skipped",
          why: `no component "${w.name}"${describeAttributes(w.attributes)} on the Stackmon dashboard at ${peer} for ${serviceKey(n.service)}, even after reading them again; check ${spec.path}.components and ${spec.path}.environments`,
          level: "warn",
          // The component may yet appear on the dashboard.
          final: false
        }
      }

      const resolve = (n: Notification) =>
        s.api === "v1" ? Effect.succeed(Option.some(undefined)) : Effect.map(componentFor(n), Option.map((c): number | undefined => c.id))

      return {
        name: spec.name,
        target: `Stackmon dashboard (API ${s.api}) at ${peer}`,
        notify: (n) =>
          Effect.flatMap(resolve(n), (id) =>
            Option.match(id, {
              onNone: () => Effect.succeed(missing(n)),
              onSome: (id): Effect.Effect<Delivery, ReturnType<typeof signFailed>> =>
                n.status === 0
                  ? id === undefined
                    ? Effect.succeed({ _tag: "Skipped", why: "API v1 has no way to close an incident", level: "debug", final: true })
                    : resolveIncident(n, id)
                  : sender.send(n, request(n, id), id === undefined ? judgeV1(n) : judgeEvent(n, id))
            })
          ),
        rehearse: (n) =>
          Effect.gen(function* () {
            const id = yield* resolve(n)
            if (Option.isNone(id)) return `nothing: ${missing(n).why}`
            const built = yield* Effect.flatMap(Clock.currentTimeMillis, request(n, id.value))
            return `${built.method} ${safeUrl(built.url)} ${built.body}`
          })
      }
    })
}
