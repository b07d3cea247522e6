/**
 * Statuspage, Slack and PagerDuty against fakes that follow each service's
 * own documentation (test/notifiers/fakes.ts), under TestClock: what each
 * adapter will and will not overwrite, how it gives up on what will not
 * work, and the context it carries.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { Adapter, Delivery, TargetError, TargetPort } from "../src/Target.js"
import * as Either from "effect/Either"
import { ADAPTERS } from "../src/Target/adapters.js"
import type { TargetType } from "../src/Target/registry.js"
import { type Notification, notificationFor, type ServiceRef } from "../src/Domain.js"
import * as RateLimits from "../src/RateLimits.js"
import { advance, api, fakeHttp, SECRET, specOf, TestTarget } from "./helpers.js"
import { jwtVerify } from "jose"
import * as NodeTransport from "../src/Transport/Node.js"
import { startPeer } from "./peer.js"
import { pagerduty, slack, statuspage } from "./notifiers/fakes.js"

const T = Date.parse("2024-01-20T12:03:00Z")
const reading = (status: number, previous = 0, service: ServiceRef = api, extra: Partial<Parameters<typeof notificationFor>[1]> = {}): Notification => ({
  ...notificationFor(service, { status, timestamp: new Date(T), triggeredMetrics: ["api.api_down"], matchedExpression: "api.api_down", region: "eu-de", ...extra }),
  previous
})

/** The port of `type` over the fake, with one process-wide RateLimits (as the daemon has). */
const portLayer = (type: TargetType, raw: Record<string, unknown>, handle: Parameters<typeof fakeHttp>[0], services: ReadonlyArray<ServiceRef> = [api]) => {
  const http = fakeHttp(handle)
  const layer = Layer.scoped(TestTarget, (ADAPTERS[type] as Adapter).make(specOf(type, raw), { budget: Duration.seconds(27), services })).pipe(
    Layer.provide(Layer.merge(http.layer, RateLimits.layer))
  )
  return { http, layer }
}

/** One notification, the clock moved along while it waits for the key's rate limit. */
const send = (port: TargetPort, n: Notification) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(Effect.either(port.notify(n)))
    yield* advance("5 seconds", "250 millis")
    return yield* Fiber.join(fiber)
  })

const delivered = { _tag: "Right", right: { _tag: "Delivered" } }

/** A batch through `notifyMany`, its results gathered by index as they are answered. */
const many = (port: TargetPort, ns: ReadonlyArray<Notification>) =>
  Effect.gen(function* () {
    const results: Array<Either.Either<Delivery, TargetError>> = []
    yield* port.notifyMany!(ns, (i, outcome) => Effect.sync(() => void (results[i] = outcome)))
    return results
  })
const failedWith = (e: { _tag: string; left?: TargetError }) => (e._tag === "Left" ? e.left! : undefined)

describe("Statuspage: never overwrite what an operator set", () => {
  const raw = { url: "http://sp.test/v1", api_key: "sp-key", page_id: "pg1", components: { "api/production": "c1", "db/production": "c2" } }
  const db = { name: "db", environment: "production" }

  it.effect("writes over operational, and over what it wrote itself; an unchanged component is not written again", () =>
    Effect.gen(function* () {
      const sp = statuspage({ key: "sp-key", page: "pg1", components: { c1: "operational", c2: "operational" } })
      const { http, layer } = portLayer("statuspage", raw, sp.handle)
      yield* Effect.gen(function* () {
        const port = yield* TestTarget
        expect(yield* send(port, reading(1))).toMatchObject(delivered)
        expect(sp.components["c1"]).toBe("degraded_performance")
        expect(yield* send(port, reading(2, 1))).toMatchObject(delivered)
        expect(sp.components["c1"]).toBe("major_outage")
        const patches = http.requests.filter((r) => r.method === "PATCH").length
        // A reminder of what it already shows: read, not written.
        expect(yield* send(port, reading(2, 2))).toMatchObject(delivered)
        expect(http.requests.filter((r) => r.method === "PATCH")).toHaveLength(patches)
        expect(yield* send(port, reading(0, 2))).toMatchObject(delivered)
        expect(sp.components["c1"]).toBe("operational")
      }).pipe(Effect.provide(layer))
    }))

  it.effect("under_maintenance, or a status set by hand, is left alone: said once at info, then at debug, and it stays due", () =>
    Effect.gen(function* () {
      const sp = statuspage({ key: "sp-key", page: "pg1", components: { c1: "under_maintenance", c2: "major_outage" } })
      const { http, layer } = portLayer("statuspage", raw, sp.handle, [api, db])
      const [maintained, again, byHand, recovery] = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        // We last delivered "degraded" to db; an operator has since set it to major_outage by hand.
        return [yield* send(port, reading(0, 1)), yield* send(port, reading(0, 1)), yield* send(port, reading(1, 1, db)), yield* send(port, reading(0, 1, db))]
      }).pipe(Effect.provide(layer))
      expect(maintained).toMatchObject({ _tag: "Right", right: { _tag: "Skipped", level: "info", final: false, why: "component c1 (api/production) is under maintenance: left as it is" } })
      expect(again).toMatchObject({ right: { level: "debug" } })
      expect(byHand).toMatchObject({ right: { _tag: "Skipped", level: "info", why: "component c2 (db/production) shows major_outage, which this reporter did not set: left as it is" } })
      expect(recovery).toMatchObject({ right: { _tag: "Skipped" } })
      expect(http.requests.filter((r) => r.method === "PATCH")).toEqual([])
      expect(sp.components).toEqual({ c1: "under_maintenance", c2: "major_outage" })
    }))

  it.effect("a component inside an incident this reporter did not open is left alone; the incidents are read once for many", () =>
    Effect.gen(function* () {
      const sp = statuspage({ key: "sp-key", page: "pg1", components: { c1: "operational", c2: "operational" } })
      sp.openIncident("inc9", "Database latency", ["c1", "c2"])
      const { http, layer } = portLayer("statuspage", raw, sp.handle, [api, db])
      const results = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        return [yield* send(port, reading(1)), yield* send(port, reading(1, 0, db))]
      }).pipe(Effect.provide(layer))
      expect(results).toMatchObject([
        { right: { _tag: "Skipped", why: 'component c1 (api/production) is in the unresolved incident inc9 "Database latency", which this reporter did not open: left as it is' } },
        { right: { _tag: "Skipped" } }
      ])
      expect(http.requests.filter((r) => r.url.pathname.endsWith("/incidents/unresolved"))).toHaveLength(1)
      expect(sp.components).toEqual({ c1: "operational", c2: "operational" })
    }))

  it.effect("an unknown component id (404) is held back for that service only: the others are still sent", () =>
    Effect.gen(function* () {
      const sp = statuspage({ key: "sp-key", page: "pg1", components: { c2: "operational" } })
      const { http, layer } = portLayer("statuspage", raw, sp.handle, [api, db])
      const [missing, held, other] = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        return [yield* send(port, reading(1)), yield* send(port, reading(1)), yield* send(port, reading(1, 0, db))]
      }).pipe(Effect.provide(layer))
      expect(failedWith(missing as never)?.message).toContain("rejected the notification for api in production (404: Not found; it would refuse again: nothing more is sent to api in production at this target for 1m (what is due stays due))")
      expect(failedWith(missing as never)?.refused).toBe(true)
      expect(held).toMatchObject({ right: { _tag: "Skipped", level: "debug", final: false, why: expect.stringContaining("held back after it refused") } })
      expect(other).toMatchObject(delivered)
      expect(http.requests.filter((r) => r.url.pathname.endsWith("/components/c1"))).toHaveLength(1)
    }))
})

describe("Slack: give up on what will not work, and say what it means", () => {
  const raw = { webhook_url: "https://hooks.slack.test/services/T0/B0/x" }

  it.effect("channel_not_found: one error with Slack's code and what to do; held back 1, 2, 4 minutes, what is due stays due; the first success ends it", () =>
    Effect.gen(function* () {
      const hook = slack("channel_not_found")
      const { http, layer } = portLayer("slack", raw, hook.handle)
      yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const first = yield* send(port, reading(2))
        expect(failedWith(first as never)?.message).toBe(
          'Notifier "slack" (slack) at its webhook URL (notifiers[0].webhook_url) rejected the notification for api in production (404: channel_not_found: the webhook\'s channel no longer exists: create a webhook for an existing channel; it would refuse again: nothing more is sent to this target for 1m (what is due stays due))'
        )
        expect(failedWith(first as never)?.refused).toBe(true)
        const attemptsAt = (): number => http.requests.length
        expect(attemptsAt()).toBe(1)
        // Held: nothing sent, skipped for now.
        expect(yield* send(port, reading(2))).toMatchObject({ right: { _tag: "Skipped", final: false } })
        expect(attemptsAt()).toBe(1)
        // After the minute, one more try, refused again: two minutes this time, then four.
        yield* TestClock.adjust("1 minute")
        yield* send(port, reading(2))
        expect(attemptsAt()).toBe(2)
        yield* TestClock.adjust("1 minute")
        yield* send(port, reading(2))
        expect(attemptsAt()).toBe(2)
        yield* TestClock.adjust("1 minute")
        expect(failedWith((yield* send(port, reading(2))) as never)?.message).toContain("for 4m")
        expect(attemptsAt()).toBe(3)
        // The channel is back: after the hold, delivered, and no hold any more.
        hook.set("ok")
        yield* TestClock.adjust("4 minutes")
        expect(yield* send(port, reading(2))).toMatchObject(delivered)
        expect(yield* send(port, reading(1))).toMatchObject(delivered)
        expect(hook.messages).toHaveLength(2)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("40 messages at once: one a second; those the limit holds past the budget come back as held by the limit, not as failures", () =>
    Effect.gen(function* () {
      const hook = slack()
      const services = Array.from({ length: 40 }, (_, i) => ({ name: `svc${i}`, environment: "production" }))
      const { layer } = portLayer("slack", raw, hook.handle, services)
      const results = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const fiber = yield* Effect.fork(Effect.forEach(services, (s) => Effect.either(port.notify(reading(2, 0, s))), { concurrency: "unbounded" }))
        yield* advance("40 seconds", "1 second")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(layer))
      const held = results.flatMap((r) => (r._tag === "Left" ? [r.left] : []))
      expect(hook.messages.length).toBeGreaterThanOrEqual(26)
      expect(hook.messages.length + held.length).toBe(40)
      expect(held.length).toBeGreaterThan(0)
      expect(held.every((e) => e.rateLimit === "Slack's 1 message a second per webhook")).toBe(true)
    }))

  it.effect("action_prohibited is a workspace restriction, not the credential; a 200 without \"ok\" is not a delivery", () =>
    Effect.gen(function* () {
      const hook = slack("action_prohibited")
      const { layer } = portLayer("slack", raw, hook.handle)
      const prohibited = yield* Effect.flatMap(TestTarget, (port) => send(port, reading(2))).pipe(Effect.provide(layer))
      expect(failedWith(prohibited as never)?.reason).toBe("Rejected")
      expect(failedWith(prohibited as never)?.message).toContain("action_prohibited: the workspace does not allow this webhook to post here (an admin's restriction, not the URL)")
      const odd = portLayer("slack", raw, () => ({ status: 200, headers: {}, body: "" }))
      const notOk = yield* Effect.flatMap(TestTarget, (port) => send(port, reading(2))).pipe(Effect.provide(odd.layer))
      expect(failedWith(notOk as never)?.message).toContain('answered 200 without "ok" (an empty body): not taken as delivered')
    }))
})

describe("Slack: validate --connect checks the webhook without posting", () => {
  it.effect("a live webhook refuses an empty message (400): fine, nothing posted; an archived channel is said with what it means", () =>
    Effect.gen(function* () {
      const check = (state: Parameters<typeof slack>[0]) =>
        Effect.gen(function* () {
          const hook = slack(state)
          const http = fakeHttp(hook.handle)
          const lines = yield* ADAPTERS.slack.check!(specOf("slack", { webhook_url: "https://hooks.slack.test/services/T0/B0/x" }) as never, [api]).pipe(Effect.provide(http.layer))
          return { lines, messages: hook.messages }
        })
      const live = yield* check("ok")
      expect(live.lines).toEqual([{ ok: true, line: 'Notifier "slack" (slack) at its webhook URL (notifiers[0].webhook_url): reachable, the webhook is live (it refused an empty message, invalid_payload; nothing was posted)' }])
      expect(live.messages).toEqual([])
      const archived = yield* check("channel_is_archived")
      expect(archived.lines[0]).toMatchObject({ ok: false, line: expect.stringContaining("answered 410 channel_is_archived: the webhook's channel is archived") })
    }))
})

describe("Slack: one message per cycle, not thirty", () => {
  const raw = { webhook_url: "https://hooks.slack.test/services/T0/B0/x" }
  const services = Array.from({ length: 30 }, (_, i) => ({ name: `svc${i}`, environment: "production" }))

  it.effect("a cycle's 30 changes go as one message, worst first, each with its own result", () =>
    Effect.gen(function* () {
      const hook = slack()
      const { http, layer } = portLayer("slack", raw, hook.handle, services)
      // Without the convertor's why: short lines, all within one message.
      const ns = services.map((s, i) => ({ ...notificationFor(s, { status: i % 3 === 0 ? 0 : i % 3, timestamp: new Date(T), triggeredMetrics: [] }), previous: i % 3 === 0 ? 2 : 0 }))
      const results = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const fiber = yield* Effect.fork(many(port, ns))
        yield* advance("5 seconds", "250 millis")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(layer))
      expect(http.requests).toHaveLength(1)
      expect(results.every((r) => r._tag === "Right" && r.right._tag === "Delivered")).toBe(true)
      const [message] = hook.messages
      expect(message!.split("\n")[0]).toBe("*30 changes*: 10 outage(s), 10 degraded, 10 recovered")
      const lines = message!.split("\n").slice(1).filter((l) => l.startsWith("*"))
      expect(lines.slice(0, 10).every((l) => l.includes("is *outage*"))).toBe(true)
      expect(lines.slice(20).every((l) => l.includes("has *recovered*"))).toBe(true)
    }))

  it.effect("changes too long for one message go in as few as fit Slack's advice (under 4,000 characters each)", () =>
    Effect.gen(function* () {
      const hook = slack()
      const { layer } = portLayer("slack", raw, hook.handle, services)
      const ns = services.map((s) => reading(2, 0, s, { matchedExpression: "x".repeat(600) }))
      yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const fiber = yield* Effect.fork(many(port, ns))
        yield* advance("30 seconds", "250 millis")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(layer))
      expect(hook.messages.length).toBeGreaterThan(1)
      expect(hook.messages.every((m) => m.length < 4000)).toBe(true)
      expect(hook.messages[0]).toMatch(new RegExp(`^\\*30 changes\\*: 30 outage\\(s\\) \\(message 1 of ${hook.messages.length}\\)`))
      expect(hook.messages.join("\n").match(/is \*outage\*/g)).toHaveLength(30)
    }))

  it.effect("a batch refused: one hold for the target, not one per notification", () =>
    Effect.gen(function* () {
      const hook = slack("channel_is_archived")
      const { http, layer } = portLayer("slack", raw, hook.handle, services)
      const results = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const first = yield* many(port, services.slice(0, 5).map((s) => reading(2, 0, s)))
        yield* TestClock.adjust("61 seconds")
        const second = yield* many(port, services.slice(0, 5).map((s) => reading(2, 0, s)))
        return [first, second] as const
      }).pipe(Effect.provide(layer))
      expect(http.requests).toHaveLength(2)
      expect(results[0].every((r) => r._tag === "Left" && r.left.message.includes("for 1m"))).toBe(true)
      // A minute later: tried once, refused again, held two minutes (not 2^5).
      expect(results[1].every((r) => r._tag === "Left" && r.left.message.includes("for 2m"))).toBe(true)
    }))
})

describe("PagerDuty: the context on-call needs, and its limits", () => {
  const KEY = "R0UT1NGKEY0123456789abcdef012345"
  const raw = (extra: Record<string, unknown> = {}) => ({ url: "http://pd.test/v2/enqueue", routing_key: KEY, name: "oncall", ...extra })

  it.effect("a trigger carries when it was detected, who sent it and where to look, and the reading as custom_details, each bounded", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const pd = pagerduty({ now: () => clock.unsafeCurrentTimeMillis() })
      const { layer } = portLayer("pagerduty", raw({ client_url: "https://status.example.com" }), pd.handle)
      const metrics = Array.from({ length: 150 }, (_, i) => `m${i}.${"x".repeat(2000)}`)
      const result = yield* Effect.flatMap(TestTarget, (port) => send(port, reading(2, 0, api, { matchedExpression: "e".repeat(5000), triggeredMetrics: metrics }))).pipe(Effect.provide(layer))
      expect(result).toMatchObject(delivered)
      const event = pd.events[0] as { client: string; client_url: string; payload: { timestamp: string; summary: string; custom_details: Record<string, unknown> } }
      expect(event.client).toBe("cloudmon-metrics-reporter")
      expect(event.client_url).toBe("https://status.example.com")
      expect(event.payload.timestamp).toBe("2024-01-20T12:03:00.000Z")
      expect(event.payload.summary.length).toBe(1024)
      const details = event.payload.custom_details as { matched_expression: string; triggered_metrics: Array<string>; triggered_metrics_total: number; region: string }
      expect(details.matched_expression.length).toBe(1024)
      expect(details.triggered_metrics).toHaveLength(100)
      expect(details.triggered_metrics.every((m) => m.length <= 1024)).toBe(true)
      expect(details.triggered_metrics_total).toBe(150)
      expect(details.region).toBe("eu-de")
    }))

  it.effect("a 400 keeps PagerDuty's own words and holds the target back; a 429 is not retried at once: 30 s later it goes", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const refusing = portLayer("pagerduty", raw(), () => ({
        status: 400,
        headers: {},
        body: JSON.stringify({ status: "invalid event", message: "Event object is invalid", errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"] })
      }))
      const refused = yield* Effect.flatMap(TestTarget, (port) => send(port, reading(2))).pipe(Effect.provide(refusing.layer))
      expect(failedWith(refused as never)?.message).toContain("(400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters); it would refuse again")
      expect(refusing.http.requests).toHaveLength(1)

      // A limit of 2 a minute: the third is throttled.
      const pd = pagerduty({ now: () => clock.unsafeCurrentTimeMillis(), limitPerMinute: 2 })
      const throttled = portLayer("pagerduty", raw(), pd.handle)
      yield* Effect.gen(function* () {
        const port = yield* TestTarget
        yield* send(port, reading(2))
        yield* send(port, reading(2))
        const third = yield* send(port, reading(2))
        expect(failedWith(third as never)?.message).toBe(
          'Notifier "oncall" (pagerduty) at http://pd.test/v2/enqueue unavailable while notifying api in production: too many events (429); it asks to slow down: nothing more is sent to this target for 30s (what is due stays due)'
        )
        expect(throttled.http.requests).toHaveLength(3)
        expect(yield* send(port, reading(2))).toMatchObject({ right: { _tag: "Skipped" } })
        yield* TestClock.adjust("60 seconds")
        expect(yield* send(port, reading(2))).toMatchObject(delivered)
      }).pipe(Effect.provide(throttled.layer))
    }))

  it.effect("never more than 120 events in any minute per routing key: 60 at once, then one a second; none throttled, the rest left due", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const pd = pagerduty({ now: () => clock.unsafeCurrentTimeMillis() })
      const services = Array.from({ length: 150 }, (_, i) => ({ name: `svc${i}`, environment: "production" }))
      const { layer } = portLayer("pagerduty", raw(), pd.handle, services)
      const results = yield* Effect.gen(function* () {
        const port = yield* TestTarget
        const fiber = yield* Effect.fork(Effect.forEach(services, (s) => Effect.either(port.notify(reading(2, 0, s))), { concurrency: "unbounded" }))
        yield* advance("30 seconds", "1 second")
        const inFirstHalfMinute = pd.events.length
        yield* advance("90 seconds", "1 second")
        return { inFirstHalfMinute, all: yield* Fiber.join(fiber) }
      }).pipe(Effect.provide(layer))
      // None throttled: the limiter spread them. What waited past the phase budget (27 s) was not sent:
      // it stays due for the next cycle.
      const failed = results.all.flatMap((r) => (r._tag === "Left" ? [r.left] : []))
      expect(failed.every((e) => e.reason === "Timeout" && e.status === undefined)).toBe(true)
      expect(results.inFirstHalfMinute).toBeGreaterThanOrEqual(60 + 26)
      expect(results.inFirstHalfMinute).toBeLessThanOrEqual(60 + 30)
      expect(pd.events).toHaveLength(150 - failed.length)
    }))

  it.effect("a reload that rotates the routing key resolves what the old key opened with the old key", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const pd = pagerduty({ now: () => clock.unsafeCurrentTimeMillis() })
      const http = fakeHttp(pd.handle)
      const NEW = "NEWKEY00000000000000000000000000"
      const build = (key: string) => (ADAPTERS.pagerduty as Adapter).make(specOf("pagerduty", raw({ routing_key: key })), { budget: Duration.seconds(27), services: [api] })
      // One process: the same RateLimits service across the two generations.
      yield* Effect.gen(function* () {
        const before = yield* Effect.scoped(build(KEY))
        yield* send(before, reading(2))
        const after = yield* Effect.scoped(build(NEW))
        yield* send(after, reading(0, 2))
        // The next trigger, and its resolve, go with the new key.
        yield* send(after, reading(2))
        yield* send(after, reading(0, 2))
      }).pipe(Effect.provide(Layer.merge(http.layer, RateLimits.layer)))
      expect(pd.events.map((e) => [e["event_action"], e["routing_key"]])).toEqual([
        ["trigger", KEY],
        ["resolve", KEY],
        ["trigger", NEW],
        ["resolve", NEW]
      ])
      expect(pd.open.size).toBe(0)
    }))
})


describe("webhook: a cycle's notifications together, unless group: false", () => {
  it.live("a cycle's notifications in one POST {count, notifications}, the JWT over the same; with group: false, one POST each", () =>
    Effect.gen(function* () {
      const services = Array.from({ length: 3 }, (_, i) => ({ name: `svc${i}`, environment: "production" }))
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 200, body: {} })))
      const ns = services.map((s) => reading(2, 0, s))
      const grouped = (ADAPTERS.webhook as Adapter).make(specOf("webhook", { url: `${peer.url}/hook`, secret: SECRET }), { budget: Duration.seconds(27), services })
      const plain = (ADAPTERS.webhook as Adapter).make(specOf("webhook", { url: `${peer.url}/hook`, group: false }), { budget: Duration.seconds(27), services })
      const [withGroup, without] = yield* Effect.all([Effect.scoped(grouped), Effect.scoped(plain)]).pipe(Effect.provide(Layer.merge(NodeTransport.layer, RateLimits.layer)))
      const results = yield* many(withGroup, ns)
      expect(results.every((r) => r._tag === "Right")).toBe(true)
      expect(without.notifyMany).toBeUndefined()
      yield* Effect.promise(() => peer.close())
      expect(peer.seen).toHaveLength(1)
      const body = JSON.parse(peer.seen[0]!.body) as { count: number; notifications: Array<{ service: string }> }
      expect(body.count).toBe(3)
      expect(body.notifications.map((n) => n.service)).toEqual(["svc0", "svc1", "svc2"])
      const { payload } = yield* Effect.promise(() => jwtVerify(peer.seen[0]!.headers["authorization"]!.replace(/^Bearer /, ""), new TextEncoder().encode(SECRET)))
      expect((payload as { count: number }).count).toBe(3)
    }))
})
