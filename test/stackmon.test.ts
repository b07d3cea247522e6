/**
 * The Stackmon adapter against reference servers that behave as the real
 * dashboards' source says (test/stackmon/go.ts, test/stackmon/python.ts):
 * what the dashboard shows after each notification, through the real Node
 * transport on loopback.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose"
import type { Adapter, TargetPort } from "../src/Target.js"
import { ADAPTERS } from "../src/Target/adapters.js"
import { type Notification, notificationFor, type ServiceRef } from "../src/Domain.js"
import * as NodeTransport from "../src/Transport/Node.js"
import { captureLogs, SECRET, specOf, targetLayer, TestTarget } from "./helpers.js"

import { type GoComponent, startGoDashboard } from "./stackmon/go.js"
import { startPythonDashboard } from "./stackmon/python.js"

const region = (value: string) => ({ name: "region", value })
const COMPONENTS: ReadonlyArray<GoComponent> = [
  { id: 1, name: "API Gateway", attributes: [region("EU-DE"), { name: "category", value: "Networking" }, { name: "type", value: "apig" }] },
  { id: 2, name: "Compute", attributes: [region("EU-DE"), { name: "category", value: "Compute" }, { name: "type", value: "ecs" }] },
  { id: 3, name: "Storage", attributes: [region("EU-DE"), { name: "category", value: "Storage" }, { name: "type", value: "obs" }] },
  // The Go server leaves an empty name and attributes out (models.go:14-15).
  { id: 4, name: "", attributes: [] },
  // Same name and region, told apart by category only.
  { id: 5, name: "Database", attributes: [region("EU-DE"), { name: "category", value: "Database" }, { name: "type", value: "rds" }] },
  { id: 6, name: "Database", attributes: [region("EU-DE"), { name: "category", value: "Analytics" }, { name: "type", value: "dws" }] },
  { id: 7, name: "API Gateway", attributes: [region("EU-NL"), { name: "category", value: "Networking" }, { name: "type", value: "apig" }] },
  ...Array.from({ length: 8 }, (_, i) => ({ id: 10 + i, name: `Service ${i}`, attributes: [region("EU-DE"), { name: "category", value: "Other" }, { name: "type", value: `s${i}` }] }))
]

const service = (name: string): ServiceRef => ({ name, environment: "production" })
const api = service("api")
const compute = service("compute")
const storage = service("storage")
const SERVICES = [api, compute, storage, ...Array.from({ length: 8 }, (_, i) => service(`s${i}`))]
const NAMES = { api: "API Gateway", compute: "Compute", storage: "Storage", db: "Database", ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, `Service ${i}`])) }

const settings = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  secret: SECRET,
  environments: { production: { region: "EU-DE" } },
  components: NAMES,
  ...extra
})

const reading = (s: ServiceRef, status: number, at = Date.now()): Notification =>
  notificationFor(s, { status, timestamp: new Date(at), triggeredMetrics: [], region: "eu-de" })

/** The port for `raw` settings, built as the daemon builds it, for one effect. */
const withPort = <A, E>(raw: Record<string, unknown>, use: (port: TargetPort) => Effect.Effect<A, E>, services: ReadonlyArray<ServiceRef> = SERVICES) =>
  Effect.flatMap(TestTarget, use).pipe(
    Effect.provide(targetLayer(ADAPTERS.stackmon as Adapter, specOf("stackmon", raw, "status_dashboard"), NodeTransport.layer, { services, budget: Duration.seconds(10) }))
  )

const closing = (peer: { close: () => Promise<void> }) => Effect.ensuring(Effect.promise(() => peer.close())) as <B, E, R>(self: Effect.Effect<B, E, R>) => Effect.Effect<B, E, R>

const token = (secret: string, claims: Record<string, unknown> = { stackmon: "dummy" }) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(secret))

describe("the reference servers reproduce the awkward rules", () => {
  it.live("Go: concurrent system POSTs at one impact split into several incidents (no lock); one at a time, one incident", () =>
    Effect.promise(async () => {
      const post = async (url: string, id: number) =>
        fetch(`${url}/v2/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${await token(SECRET)}`, "content-type": "application/json" },
          body: JSON.stringify({ title: "t", impact: 1, components: [id], start_date: new Date(Date.now() - 5000).toISOString(), system: true, type: "incident" })
        })
      const raced = await startGoDashboard({ components: COMPONENTS, secret: SECRET, raceDelayMs: 30 })
      await Promise.all([10, 11, 12, 13].map((id) => post(raced.url, id)))
      const together = raced.incidents.filter((i) => i.system && i.end_date === undefined).length
      const serial = await startGoDashboard({ components: COMPONENTS, secret: SECRET, raceDelayMs: 30 })
      for (const id of [10, 11, 12, 13]) await post(serial.url, id)
      await raced.close()
      await serial.close()
      expect(together).toBeGreaterThan(1)
      expect(serial.incidents).toHaveLength(1)
    }))

  it.live("Go: auth runs before any lookup; PATCH /v2/events/0 is 401 for a bad token, 400 for a good one; a start_date after its clock is 400", () =>
    Effect.promise(async () => {
      const go = await startGoDashboard({ components: COMPONENTS, secret: SECRET })
      const patch = async (t: string, id: number) => (await fetch(`${go.url}/v2/events/${id}`, { method: "PATCH", headers: { authorization: `Bearer ${t}` }, body: "{}" })).status
      const statuses = [await patch(await token("wrong-secret-wrong-secret-wrong-secret!"), 0), await patch(await token(SECRET), 0), await patch(await token(SECRET), 999)]
      const future = await fetch(`${go.url}/v2/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${await token(SECRET)}` },
        body: JSON.stringify({ title: "t", impact: 1, components: [1], start_date: new Date(Date.now() + 2000).toISOString(), system: true, type: "incident" })
      })
      await go.close()
      expect(statuses).toEqual([401, 400, 404])
      expect(future.status).toBe(400)
    }))

  it.live("Python: an unknown component is a 500; the body is checked before the token", () =>
    Effect.promise(async () => {
      const py = await startPythonDashboard({ components: COMPONENTS, secret: SECRET })
      const post = async (body: unknown, t?: string) =>
        (await fetch(`${py.url}/api/v1/component_status`, { method: "POST", headers: t === undefined ? {} : { authorization: `Bearer ${t}` }, body: JSON.stringify(body) })).status
      const statuses = [await post({ name: "Nope", impact: 1 }, await token(SECRET)), await post({ impact: "minor" }), await post({ name: "Compute", impact: 1 })]
      await py.close()
      expect(statuses).toEqual([500, 422, 401])
    }))
})

describe("Stackmon v2 against the Go server's rules", () => {
  it.live("degraded → outage → degraded → healthy: the dashboard shows each within the notification (minor, outage, minor, closed)", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const shown: Array<string> = []
      const look = () => shown.push(go.openFor(1).map((i) => `${i.impact}${i.system ? "s" : "p"}`).join(",") || "none")
      yield* withPort(settings(go.url), (port) =>
        Effect.gen(function* () {
          for (const status of [1, 2, 1, 0]) {
            expect(yield* port.notify(reading(api, status))).toEqual({ _tag: "Delivered" })
            look()
          }
        })
      ).pipe(closing(go))
      expect(shown).toEqual(["1s", "3s", "1s", "none"])
      // Closed by us, never refused: no 4xx in the server's log.
      expect(go.seen.filter((s) => s.status >= 400)).toEqual([])
      // The outage ends as an outage (closed at impact 3: what the availability counts), then minor until healthy.
      expect(go.incidents.map((i) => [i.impact, i.end_date !== undefined, i.updates.map((u) => u.status)])).toEqual([
        [3, true, ["detected", "SYSTEM", "resolved"]],
        [1, true, ["detected", "resolved"]]
      ])
    }))

  it.live("below an outage, a lower impact is changed in place (PATCH impact changed): one incident, major then minor", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url, { impact: { outage: 2 } }), (port) => Effect.all([port.notify(reading(api, 2)), port.notify(reading(api, 1))])).pipe(closing(go))
      expect(go.incidents.map((i) => [i.impact, i.end_date === undefined, i.updates.map((u) => u.status)])).toEqual([[1, true, ["detected", "impact changed"]]])
    }))

  it.live("the wire: the documented event, an HS256 token with the stackmon claim on every request; no secret, no Authorization header", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const at = Date.parse("2024-01-20T12:03:00Z")
      yield* withPort(settings(go.url), (port) => port.notify(reading(api, 2, at))).pipe(closing(go))
      const post = go.seen.find((s) => s.method === "POST")!
      expect(JSON.parse(post.body)).toEqual({
        title: "System incident from monitoring system",
        description: "System-wide incident affecting one or multiple components. Created automatically.",
        impact: 3,
        components: [1],
        start_date: "2024-01-20T12:02:59Z",
        system: true,
        type: "incident"
      })
      expect(post.headers["content-type"]).toBe("application/json")
      const token = post.headers["authorization"]!.replace(/^Bearer /, "")
      expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" })
      const { payload } = yield* Effect.promise(() => jwtVerify(token, new TextEncoder().encode(SECRET)))
      expect(payload).toMatchObject({ stackmon: "dummy", iat: expect.any(Number), exp: expect.any(Number) })
      expect(go.seen.every((s) => s.headers["authorization"]?.startsWith("Bearer "))).toBe(true)

      const open = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS }))
      const { secret: _secret, ...noSecret } = settings(open.url)
      yield* withPort(noSecret, (port) => port.notify(reading(api, 2))).pipe(closing(open))
      expect(open.seen.map((s) => s.headers["authorization"])).toEqual(open.seen.map(() => undefined))
      expect(open.openFor(1)).toHaveLength(1)
    }))

  it.live("a component missing at start-up is read again on a miss, and used once the dashboard has it", () =>
    Effect.gen(function* () {
      const components = [...COMPONENTS]
      const go = yield* Effect.promise(() => startGoDashboard({ components, secret: SECRET }))
      const dns = service("dns")
      const [missing, found] = yield* withPort(
        settings(go.url),
        (port) =>
          Effect.gen(function* () {
            const missing = yield* port.notify(reading(dns, 1))
            components.push({ id: 40, name: "dns", attributes: [region("EU-DE")] })
            return [missing, yield* port.notify(reading(dns, 1))] as const
          }),
        [dns]
      ).pipe(closing(go))
      expect(missing).toMatchObject({ _tag: "Skipped", final: false, why: expect.stringContaining('no component "dns" with region=EU-DE') })
      expect(found).toEqual({ _tag: "Delivered" })
      expect(go.openFor(40)).toHaveLength(1)
    }))

  it.live("a component under maintenance: nothing opened, it stays due", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const maintenance = go.open({ impact: 0, components: [1], type: "maintenance", end_date: new Date(Date.now() + 3_600_000).toISOString() })
      const delivery = yield* withPort(settings(go.url), (port) => port.notify(reading(api, 2))).pipe(closing(go))
      expect(delivery).toMatchObject({ _tag: "Skipped", level: "info", final: false, why: expect.stringContaining("event creation failed, component in maintenance") })
      expect(go.incidents).toEqual([maintenance])
    }))

  it.live("an incident closed by hand is forgotten, not touched again; the next outage opens a new one", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const [recovered, again] = yield* withPort(settings(go.url), (port) =>
        Effect.gen(function* () {
          yield* port.notify(reading(api, 2))
          const first = go.openFor(1)[0]!
          first.end_date = new Date().toISOString()
          first.status = "resolved"
          return [yield* port.notify(reading(api, 0)), yield* port.notify(reading(api, 2))] as const
        })
      ).pipe(closing(go))
      expect(recovered).toMatchObject({ _tag: "Skipped", final: true, why: expect.stringContaining("no open incident of ours") })
      expect(again).toEqual({ _tag: "Delivered" })
      expect(go.seen.filter((s) => s.method === "PATCH")).toEqual([])
      expect(go.openFor(1).map((i) => i.id)).toEqual([2])
    }))

  it.live("two components share a system incident: one recovers, the other's incident stays open; then it closes too", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const after = yield* withPort(settings(go.url), (port) =>
        Effect.gen(function* () {
          yield* port.notify(reading(api, 2))
          yield* port.notify(reading(compute, 2))
          const shared = go.openFor(1)[0]!
          expect(go.openFor(2)[0]?.id).toBe(shared.id)
          expect(yield* port.notify(reading(api, 0))).toEqual({ _tag: "Delivered" })
          const whileOther = { api: go.openFor(1).length, compute: go.openFor(2).map((i) => i.id), sharedOpen: shared.end_date === undefined }
          expect(yield* port.notify(reading(compute, 0))).toEqual({ _tag: "Delivered" })
          return { whileOther, shared }
        })
      ).pipe(closing(go))
      expect(after.whileOther).toEqual({ api: 0, compute: [after.shared.id], sharedOpen: true })
      expect(after.shared.end_date).toBeDefined()
      expect(go.incidents.every((i) => i.end_date !== undefined)).toBe(true)
      expect(go.seen.filter((s) => s.status >= 400)).toEqual([])
    }))

  it.live("an outage shared with others goes down to degraded: only this component moves, the others stay at outage", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url), (port) =>
        Effect.gen(function* () {
          yield* port.notify(reading(api, 2))
          yield* port.notify(reading(compute, 2))
          yield* port.notify(reading(api, 1))
        })
      ).pipe(closing(go))
      expect(go.openFor(1).map((i) => [i.impact, i.system])).toEqual([[1, true]])
      expect(go.openFor(2).map((i) => [i.impact, i.system])).toEqual([[3, true]])
    }))

  it.live("raising one component of a shared incident moves only it: the others' incident stays open (the server would close it, v2.go:626-629)", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url), (port) =>
        Effect.gen(function* () {
          // Storage alone at outage (the target incident has one component: the server's closeOld case).
          yield* port.notify(reading(storage, 2))
          yield* port.notify(reading(api, 1))
          yield* port.notify(reading(compute, 1))
          yield* port.notify(reading(api, 2))
        })
      ).pipe(closing(go))
      expect(go.openFor(2).map((i) => [i.impact, i.components])).toEqual([[1, [2]]])
      expect(go.openFor(1).map((i) => [i.impact, i.components.sort()])).toEqual([[3, [1, 3]]])
    }))

  it.live("a part the monitoring extracted and did not get to close is recognised (our title, the server's \"moved from\"), and closed", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url), (port) => Effect.all([port.notify(reading(api, 1)), port.notify(reading(compute, 1)), port.notify(reading(storage, 1))]))
      const shared = go.openFor(1)[0]!
      // Two extracts whose closing never happened (an answer lost, a restart): parts that are not system incidents.
      const extract = (id: number) =>
        Effect.promise(async () => {
          const answer = await fetch(`${go.url}/v2/events/${shared.id}/extract`, { method: "POST", headers: { authorization: `Bearer ${await token(SECRET)}` }, body: JSON.stringify({ components: [id] }) })
          return ((await answer.json()) as { id: number }).id
        })
      const apiPart = yield* extract(1)
      const computePart = yield* extract(2)
      const [recovered, raised] = yield* withPort(settings(go.url), (port) => Effect.all([port.notify(reading(api, 0)), port.notify(reading(compute, 2))])).pipe(closing(go))
      expect([recovered, raised]).toEqual([{ _tag: "Delivered" }, { _tag: "Delivered" }])
      expect(go.incidents.find((i) => i.id === apiPart)?.end_date).toBeDefined()
      expect(go.incidents.find((i) => i.id === computePart)?.end_date).toBeDefined()
      expect(go.openFor(1)).toEqual([])
      expect(go.openFor(2).map((i) => [i.impact, i.system])).toEqual([[3, true]])
      expect(shared.end_date).toBeUndefined()
    }))

  it.live("one component for two services is refused for both: each would undo what the other said", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const gateway = service("gateway")
      const delivery = yield* withPort(settings(go.url, { components: { ...NAMES, gateway: "API Gateway" } }), (port) => port.notify(reading(gateway, 2)), [api, gateway]).pipe(closing(go))
      expect(delivery).toMatchObject({ _tag: "Skipped", final: false, why: expect.stringContaining('is the component of 2 services (api/production, gateway/production)') })
      expect(go.writes()).toEqual([])
    }))

  it.live("a person's incident on a managed component is left alone: said once at info, then at debug; its recovery closes nothing", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const operator = go.open({ impact: 2, components: [1], title: "Investigating API errors" })
      const [first, second, recovered] = yield* withPort(settings(go.url), (port) =>
        Effect.all([port.notify(reading(api, 2)), port.notify(reading(api, 2)), port.notify(reading(api, 0))])
      ).pipe(closing(go))
      expect(first).toMatchObject({ _tag: "Skipped", level: "info", final: false, why: expect.stringContaining(`incident ${operator.id}, opened by a person: left alone`) })
      expect(second).toMatchObject({ _tag: "Skipped", level: "debug" })
      expect(recovered).toMatchObject({ _tag: "Skipped", final: true })
      expect(operator.end_date).toBeUndefined()
      expect(operator.impact).toBe(2)
      expect(go.seen.filter((s) => s.method === "PATCH" || s.path.includes("extract"))).toEqual([])
    }))

  it.live("a restart forgets nothing: a new port finds the open system incident, says it shows an outage, and its recovery closes it", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url), (port) => port.notify(reading(api, 2)))
      // A person's incident elsewhere, and a system incident of a component we do not manage, are not ours.
      go.open({ impact: 1, components: [3] })
      go.open({ impact: 1, components: [7], system: true })
      const shown = yield* withPort(settings(go.url), (port) => Effect.as(port.notify(reading(api, 0)), port.shown), [api, compute]).pipe(closing(go))
      expect(shown).toEqual([{ service: api, status: 2 }])
      expect(go.openFor(1)).toEqual([])
      expect(go.openFor(3)).toHaveLength(1)
      expect(go.openFor(7)).toHaveLength(1)
    }))

  it.live("an incident opened after this port read the dashboard (a reload taken up later) is still found and closed on recovery", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const delivery = yield* withPort(settings(go.url), (later) =>
        Effect.zipRight(
          withPort(settings(go.url), (earlier) => earlier.notify(reading(api, 2))),
          later.notify(reading(api, 0))
        )
      ).pipe(closing(go))
      expect(delivery).toEqual({ _tag: "Delivered" })
      expect(go.openFor(1)).toEqual([])
    }))

  it.live("one write at a time whatever the callers' concurrency: eight components at one impact share one incident", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET, raceDelayMs: 30 }))
      const port = yield* withPort(settings(go.url), (port) =>
        Effect.as(Effect.all(Array.from({ length: 8 }, (_, i) => port.notify(reading(service(`s${i}`), 1))), { concurrency: "unbounded" }), port)
      ).pipe(closing(go))
      expect(port.concurrency).toBe(1)
      expect(go.incidents.filter((i) => i.end_date === undefined).map((i) => i.components.length)).toEqual([8])
    }))

  it.live("impact: outage is 3 by default; `impact: {degraded: 1, outage: 2}` reproduces the upstream reporter", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      yield* withPort(settings(go.url), (port) => port.notify(reading(api, 2)))
      yield* withPort(settings(go.url, { impact: { outage: 2 } }), (port) => port.notify(reading(compute, 2))).pipe(closing(go))
      expect(go.openFor(1).map((i) => i.impact)).toEqual([3])
      expect(go.openFor(2).map((i) => i.impact)).toEqual([2])
    }))

  it.live("a reading stamped ahead of our clock is posted with a start_date no later than now (the server refuses the future)", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const delivery = yield* withPort(settings(go.url), (port) => port.notify(reading(api, 1, Date.now() + 120_000))).pipe(closing(go))
      expect(delivery).toEqual({ _tag: "Delivered" })
      expect(go.openFor(1)).toHaveLength(1)
    }))

  it.live("a component list with a nameless component decodes; an ambiguous service is refused naming the candidates and what tells them apart", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const logs = captureLogs()
      const db = service("db")
      const [first, again] = yield* withPort(settings(go.url), (port) => Effect.all([port.notify(reading(db, 2)), port.notify(reading(db, 2))]), [api, db]).pipe(
        Effect.provide(logs.layer),
        closing(go)
      )
      const why = `2 components on the Stackmon dashboard at ${go.url} match "Database" with region=EU-DE for db/production: #5 "Database" (region=EU-DE, category=Database, type=rds), #6 "Database" (region=EU-DE, category=Analytics, type=dws); nothing is sent for it until one does: add "category" or "type" to status_dashboard.environments.production`
      // Said at start-up, then each notification at debug.
      expect(logs.lines.filter((l) => l.includes("WARN") && l.includes(why))).toHaveLength(1)
      expect(first).toEqual({ _tag: "Skipped", why, level: "debug", final: false })
      expect(again).toMatchObject({ level: "debug" })
      expect(go.writes()).toEqual([])
    }))

  it.live("a service without a component is never posted: one warning with the closest names", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const typo = service("apigw")
      const delivery = yield* withPort(settings(go.url, { components: { apigw: "API Gatway" } }), (port) => port.notify(reading(typo, 1)), [typo]).pipe(closing(go))
      expect(delivery).toMatchObject({ _tag: "Skipped", final: false, why: expect.stringContaining('no component "API Gatway" with region=EU-DE') })
      expect(delivery).toMatchObject({ why: expect.stringContaining('(closest names: "API Gateway")') })
      expect(go.writes()).toEqual([])
    }))

  it.live("v2 configured against the Python server: start-up says which settings work", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET }))
      const started = yield* Effect.either(Effect.scoped(Layer.build(targetLayer(ADAPTERS.stackmon as Adapter, specOf("stackmon", settings(py.url), "status_dashboard"), NodeTransport.layer)))).pipe(closing(py))
      expect(started._tag).toBe("Left")
      if (started._tag === "Left") {
        expect(started.left.message).toBe(
          `Stackmon dashboard at ${py.url} (status_dashboard): could not read its components (GET /v2/components): answered 404; ` +
            `this server speaks API v1 at ${py.url}/api: set status_dashboard.api: v1 and status_dashboard.url: ${py.url}/api`
        )
      }
    }))
})

describe("Stackmon v1 against the Python server's rules", () => {
  const v1 = (url: string, extra: Record<string, unknown> = {}) => settings(`${url}/api`, { api: "v1", ...extra })

  it.live("opens and raises; a lower impact and a recovery are said to be beyond API v1, not counted delivered", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET }))
      const [degraded, outage, lower, healthy] = yield* withPort(v1(py.url), (port) =>
        Effect.all([port.notify(reading(api, 1)), port.notify(reading(api, 2)), port.notify(reading(api, 1)), port.notify(reading(api, 0))])
      ).pipe(closing(py))
      expect([degraded, outage]).toEqual([{ _tag: "Delivered" }, { _tag: "Delivered" }])
      expect(lower).toMatchObject({ _tag: "Skipped", final: true, why: expect.stringContaining("API v1 cannot lower an incident") })
      expect(healthy).toMatchObject({ _tag: "Skipped", final: true, why: expect.stringContaining("API v1 cannot close an incident") })
      expect(py.openFor(1).map((i) => i.impact)).toEqual([3])
      expect(py.seen[0]).toMatchObject({ method: "GET", path: "/api/v1/component_status" })
    }))

  it.live("a token is issued a minute back: a server whose clock is 30 s behind still takes it (PyJWT refuses an iat in its future)", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET, clockOffsetMs: -30_000 }))
      const delivery = yield* withPort(v1(py.url), (port) => port.notify(reading(api, 1))).pipe(closing(py))
      expect(delivery).toEqual({ _tag: "Delivered" })
    }))

  it.live("v1: a component told apart from another only by category is refused (the Go server's v1 finds it by name and region)", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET }))
      const db = service("db")
      const delivery = yield* withPort(v1(py.url, { environments: { production: { region: "EU-DE", category: "Database" } } }), (port) => port.notify(reading(db, 1)), [db]).pipe(closing(py))
      expect(delivery).toMatchObject({ _tag: "Skipped", why: expect.stringContaining('2 components on the Stackmon dashboard') })
      expect(py.incidents).toEqual([])
    }))

  it.live("an unknown component is never posted (the server would answer 500); one at a time keeps one incident per impact", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET, raceDelayMs: 30 }))
      const ghost = service("ghost")
      const deliveries = yield* withPort(v1(py.url), (port) =>
        Effect.all([port.notify(reading(ghost, 1)), ...Array.from({ length: 8 }, (_, i) => port.notify(reading(service(`s${i}`), 1)))], { concurrency: "unbounded" })
      , [ghost, ...SERVICES]).pipe(closing(py))
      expect(deliveries[0]).toMatchObject({ _tag: "Skipped", why: expect.stringContaining('no component "ghost"') })
      expect(py.seen.filter((s) => s.status >= 500)).toEqual([])
      expect(py.incidents.filter((i) => i.end_date === undefined).map((i) => i.components.length)).toEqual([8])
    }))
})

describe("validate --connect for Stackmon", () => {
  const check = (raw: Record<string, unknown>, services: ReadonlyArray<ServiceRef> = [api]) =>
    ADAPTERS.stackmon.check!(specOf("stackmon", raw, "status_dashboard") as never, services).pipe(Effect.provide(NodeTransport.layer))

  it.live("v2: a wrong secret is refused, the right one accepted, with nothing changed; ambiguous and missing components are problems", () =>
    Effect.gen(function* () {
      const go = yield* Effect.promise(() => startGoDashboard({ components: COMPONENTS, secret: SECRET }))
      const wrong = yield* check(settings(go.url, { secret: "not-the-secret-not-the-secret-not-the-secret" }))
      const right = yield* check(settings(go.url), [api, service("db"), service("ghost")]).pipe(closing(go))
      expect(wrong.map((r) => r.ok)).toEqual([true, false, true])
      expect(wrong[1]?.line).toBe(`Dashboard at ${go.url} (PATCH /v2/events/0): the credentials were refused (401: not authenticated); check status_dashboard.secret`)
      expect(right[1]).toEqual({ ok: true, line: `Dashboard at ${go.url} (PATCH /v2/events/0): credentials accepted (answered 400 after authentication; nothing was changed)` })
      expect(right.filter((r) => !r.ok).map((r) => r.line)).toEqual([
        expect.stringContaining('2 components on the Stackmon dashboard'),
        expect.stringContaining('no component "ghost"')
      ])
      expect(go.incidents).toEqual([])
    }))

  it.live("v1: a wrong secret is refused through a request that changes nothing; the web page (and its cache) is never asked", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET }))
      const v1 = (secret: string) => settings(`${py.url}/api`, { api: "v1", secret })
      const wrong = yield* check(v1("not-the-secret-not-the-secret-not-the-secret"))
      const right = yield* check(v1(SECRET)).pipe(closing(py))
      expect(wrong[1]).toMatchObject({ ok: false, line: expect.stringContaining("(POST /v1/component_status): the credentials were refused (401") })
      expect(right.every((r) => r.ok)).toBe(true)
      expect(py.pageViews()).toBe(0)
      expect(py.incidents).toEqual([])
    }))

  it.live("v2 configured against the Python server: the check names the settings that work", () =>
    Effect.gen(function* () {
      const py = yield* Effect.promise(() => startPythonDashboard({ components: COMPONENTS, secret: SECRET }))
      const result = yield* check(settings(py.url)).pipe(closing(py))
      expect(result).toEqual([
        { ok: false, line: `Dashboard at ${py.url} (GET /v2/components): answered 404; this server speaks API v1 at ${py.url}/api: set status_dashboard.api: v1 and status_dashboard.url: ${py.url}/api` }
      ])
    }))
})
