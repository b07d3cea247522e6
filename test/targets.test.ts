/**
 * Each target's contract: what goes on the wire (method, path, headers,
 * auth, body) as docs/protocols.md states it, checked on a loopback peer
 * through the real Node transport; and what each documented error answer
 * does, under TestClock with a fake transport.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { jwtVerify } from "jose"
import { type Adapter, DELIVERED, type TargetSpec } from "../src/Target.js"
import { ADAPTERS } from "../src/Target/adapters.js"
import type { TargetType } from "../src/Target/registry.js"
import { type Notification, notificationFor, type ServiceRef } from "../src/Domain.js"
import { layer as RateLimitsLayer } from "../src/RateLimits.js"
import * as NodeTransport from "../src/Transport/Node.js"
import type { TargetPort } from "../src/Target.js"
import * as Context from "effect/Context"
import { advance, api, captureLogs, fakeHttp, json, SECRET, specOf, targetLayer, TestTarget, text } from "./helpers.js"
import { startPeer } from "./peer.js"

/** A second port beside TestTarget, for two notifiers in one process. */
class Second extends Context.Tag("test/Second")<Second, TargetPort>() {}

const T = Date.parse("2024-01-20T12:03:00Z")
const outage = (service: ServiceRef = api): Notification =>
  notificationFor(service, { status: 2, timestamp: new Date(T), triggeredMetrics: ["api.api_down"], matchedExpression: "api.api_down", region: "eu-de" })

/** The port for `spec` over the real Node transport, for one effect. */
const live = <A, E>(spec: TargetSpec, use: (port: TestTarget["Type"]) => Effect.Effect<A, E>, services: ReadonlyArray<ServiceRef> = [api]) =>
  Effect.flatMap(TestTarget, use).pipe(Effect.provide(targetLayer(ADAPTERS[spec.type as TargetType] as Adapter, spec, NodeTransport.layer, { services })))

const closing = (peer: { close: () => Promise<void> }) => Effect.ensuring(Effect.promise(() => peer.close())) as <B, E, R>(self: Effect.Effect<B, E, R>) => Effect.Effect<B, E, R>

const COMPONENTS = [
  { id: 218, name: "API Gateway", attributes: [{ name: "region", value: "EU-DE" }, { name: "category", value: "network" }] },
  { id: 219, name: "API Gateway", attributes: [{ name: "region", value: "EU-NL" }] },
  { id: 300, name: "Compute", attributes: [{ name: "region", value: "EU-DE" }] }
]

describe("Stackmon (v2)", () => {
  const settings = (url: string, extra: Record<string, unknown> = {}) => ({
    url,
    secret: SECRET,
    environments: { production: { region: "EU-DE" } },
    components: { api: "API Gateway" },
    ...extra
  })

  it.effect("start-up with the dashboard down: three attempts, then a clear error (the program exits 1)", () =>
    Effect.gen(function* () {
      const http = fakeHttp(() => "refused")
      const fiber = yield* Effect.fork(Effect.scoped(Layer.build(targetLayer(ADAPTERS.stackmon, specOf("stackmon", settings("http://stackmon.test"), "status_dashboard"), http.layer))))
      // In steps, letting the fiber run between them: one jump could pass before it even waits.
      yield* advance("5 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(http.requests).toHaveLength(3)
      expect(error).toMatchObject({ _tag: "TargetStartError" })
      expect((error as { message: string }).message).toBe(
        "Stackmon dashboard at http://stackmon.test (status_dashboard): could not read its components (GET /v2/components) in 3 attempts: connection refused; check status_dashboard.url and that the dashboard is up"
      )
    })
  )

  it.effect("401 names the secret and is not retried", () =>
    Effect.gen(function* () {
      // The components, no open system incident (`{"data":[]}`, v2.go:207-214), and a 401 for the event.
      const http = fakeHttp((req) =>
        req.method === "GET" ? json(200, req.url.pathname === "/v2/components" ? COMPONENTS : { data: [] }) : json(401, { errMsg: "not authenticated" })
      )
      const result = yield* Effect.flatMap(TestTarget, (p) => Effect.either(p.notify(outage()))).pipe(
        Effect.provide(targetLayer(ADAPTERS.stackmon, specOf("stackmon", settings("http://stackmon.test"), "status_dashboard"), http.layer))
      )
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error.message).toBe("Dashboard authentication failed: check status_dashboard.secret (401 from http://stackmon.test for api in production)")
      expect(http.requests.filter((r) => r.method === "POST")).toHaveLength(1)
    })
  )
})

describe("Statuspage", () => {
  const settings = (url: string) => ({ url, api_key: "sp-key-123", page_id: "kctbh9vrtdwd", components: { "api/production": "8kbf7d35c070" } })

  it.live("PATCHes the component's status with the OAuth key; a service without a component is warned about at start-up and skipped", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      // The component shows operational, and no incident holds it: ours to set.
      const peer = yield* Effect.promise(() =>
        startPeer((req) => (req.method === "GET" ? { status: 200, body: req.path.endsWith("/unresolved") ? [] : { id: "8kbf7d35c070", status: "operational" } } : { status: 200, body: { id: "8kbf7d35c070", status: "major_outage" } }))
      )
      const dns = { name: "dns", environment: "production" }
      const [sent, skipped] = yield* live(specOf("statuspage", settings(peer.url)), (p) => Effect.all([p.notify(outage()), p.notify(outage(dns))]), [api, dns]).pipe(
        Effect.provide(logs.layer),
        closing(peer)
      )
      expect(sent).toEqual(DELIVERED)
      expect(skipped).toMatchObject({ _tag: "Skipped", level: "debug" })
      expect(peer.seen.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /pages/kctbh9vrtdwd/components/8kbf7d35c070",
        "GET /pages/kctbh9vrtdwd/incidents/unresolved",
        "PATCH /pages/kctbh9vrtdwd/components/8kbf7d35c070"
      ])
      expect(peer.seen.every((r) => r.headers["authorization"] === "OAuth sp-key-123")).toBe(true)
      const req = peer.seen[2]!
      expect(req.headers["authorization"]).toBe("OAuth sp-key-123")
      expect(JSON.parse(req.body)).toEqual({ component: { status: "major_outage" } })
      expect(logs.lines.filter((l) => l.includes("no component id for dns/production"))).toHaveLength(1)
    })
  )

  for (const status of [420, 429]) {
    it.effect(`${status} is retried after its Retry-After`, () =>
      Effect.gen(function* () {
        let patches = 0
        const http = fakeHttp((req) =>
          req.method === "GET"
            ? json(200, req.url.pathname.endsWith("/unresolved") ? [] : { status: "operational" })
            : ++patches === 1
              ? json(status, { error: "rate limited" }, { "retry-after": "3" })
              : json(200, {})
        )
        const fiber = yield* Effect.fork(Effect.flatMap(TestTarget, (p) => p.notify(outage())).pipe(Effect.provide(targetLayer(ADAPTERS.statuspage, specOf("statuspage", settings("http://sp.test")), http.layer))))
        // The two reads and the first PATCH, one a second (the key's limit).
        yield* advance("2 seconds", "100 millis")
        expect(patches).toBe(1)
        yield* TestClock.adjust("2800 millis")
        expect(patches).toBe(1)
        yield* advance("1 second", "100 millis")
        expect(yield* Fiber.join(fiber)).toEqual(DELIVERED)
        expect(patches).toBe(2)
      })
    )
  }

  it.effect("holds 1 request per second per key across the process: 10 components, two notifiers sharing a key", () =>
    Effect.gen(function* () {
      const http = fakeHttp((req) => json(200, req.method === "PATCH" ? {} : req.url.pathname.endsWith("/unresolved") ? [] : { status: "operational" }))
      const services = Array.from({ length: 10 }, (_, i) => ({ name: `svc${i}`, environment: "production" }))
      const components = Object.fromEntries(services.map((s, i) => [`${s.name}/production`, `c${i}`]))
      const spec = (name: string) => specOf("statuspage", { ...settings("http://sp.test"), name, components })
      // Two notifiers, one process: the same RateLimits service for both.
      const both = Layer.merge(
        Layer.scoped(TestTarget, (ADAPTERS.statuspage as Adapter).make(spec("public"), { budget: Duration.minutes(1), services })),
        Layer.scoped(Second, (ADAPTERS.statuspage as Adapter).make(spec("internal"), { budget: Duration.minutes(1), services }))
      ).pipe(Layer.provide(Layer.merge(http.layer, RateLimitsLayer)))
      const fiber = yield* Effect.fork(
        Effect.gen(function* () {
          const a = yield* TestTarget
          const b = yield* Second
          return yield* Effect.forEach([...services.map((s) => [a, s] as const), ...services.map((s) => [b, s] as const)], ([port, s]) =>
            port.notify(outage(s)),
            { concurrency: "unbounded" }
          )
        }).pipe(Effect.provide(both))
      )
      // Let the notifications start: the first request goes out at once.
      yield* TestClock.adjust("0 millis")
      expect(http.requests).toHaveLength(1)
      // Per notifier: 10 reads of a component, one of the unresolved incidents, 10 PATCHes: 42 requests, one a second.
      for (let second = 0; second < 50; second++) {
        const before = http.requests.length
        yield* TestClock.adjust("1 second")
        expect(http.requests.length - before).toBeLessThanOrEqual(1)
      }
      const results = yield* Fiber.join(fiber)
      expect(results.every((r) => r._tag === "Delivered")).toBe(true)
      expect(http.requests).toHaveLength(42)
    })
  )
})

describe("PagerDuty", () => {
  const settings = (url: string) => ({ url: `${url}/v2/enqueue`, routing_key: "R0UT1NGKEY0123456789abcdef012345", name: "oncall" })

  it.live("posts a trigger event with the routing key, dedup_key service/environment, a summary with the reason, and the severity; 202 is success", () =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 202, body: { status: "success", dedup_key: "api/production" } })))
      const delivery = yield* live(specOf("pagerduty", settings(peer.url)), (p) => p.notify(outage())).pipe(closing(peer))
      expect(delivery).toEqual(DELIVERED)
      const req = peer.seen[0]!
      expect(`${req.method} ${req.path}`).toBe("POST /v2/enqueue")
      expect(req.headers["authorization"]).toBeUndefined()
      expect(JSON.parse(req.body)).toEqual({
        routing_key: "R0UT1NGKEY0123456789abcdef012345",
        event_action: "trigger",
        dedup_key: "api/production",
        client: "cloudmon-metrics-reporter",
        payload: {
          summary: "api in production: outage (matched api.api_down; triggered api.api_down; region eu-de)",
          timestamp: "2024-01-20T12:03:00.000Z",
          source: "cloudmon-metrics-reporter",
          severity: "critical",
          component: "api",
          group: "production",
          custom_details: {
            service: "api",
            environment: "production",
            status: 2,
            status_label: "outage",
            region: "eu-de",
            matched_expression: "api.api_down",
            triggered_metrics: ["api.api_down"]
          }
        }
      })
    })
  )

  it.effect("400 and 429 are not retried within the cycle (the target is held back instead); 5xx are", () =>
    Effect.gen(function* () {
      const run = (answers: ReadonlyArray<number>) =>
        Effect.gen(function* () {
          const http = fakeHttp((_, n) => json(answers[Math.min(n, answers.length) - 1]!, { message: "m", errors: ["x"] }))
          const fiber = yield* Effect.fork(
            Effect.flatMap(TestTarget, (p) => Effect.either(p.notify(outage()))).pipe(Effect.provide(targetLayer(ADAPTERS.pagerduty, specOf("pagerduty", settings("http://pd.test")), http.layer)))
          )
          yield* advance("10 seconds", "500 millis")
          return { result: yield* Fiber.join(fiber), attempts: http.requests.length }
        })
      const bad = yield* run([400])
      expect(bad.attempts).toBe(1)
      expect(Either.getLeft(bad.result).pipe(Option.getOrThrow).reason).toBe("Rejected")
      expect(Either.getLeft(bad.result).pipe(Option.getOrThrow).detail).toContain("m: x")
      const throttled = yield* run([429, 202])
      expect(throttled.attempts).toBe(1)
      expect(Either.getLeft(throttled.result).pipe(Option.getOrThrow).detail).toContain("nothing more is sent to this target for 30s")
      expect(yield* run([503, 502, 202])).toMatchObject({ attempts: 3, result: Either.right(DELIVERED) })
    })
  )

  it.effect("a rehearsal shows the body with the routing key redacted", () =>
    Effect.gen(function* () {
      const http = fakeHttp(() => json(202, {}))
      const described = yield* Effect.flatMap(TestTarget, (p) => p.rehearse(outage())).pipe(Effect.provide(targetLayer(ADAPTERS.pagerduty, specOf("pagerduty", settings("http://pd.test")), http.layer)))
      expect(described).toContain('"routing_key":"<redacted>"')
      expect(described).not.toContain("R0UT1NGKEY")
      expect(http.requests).toHaveLength(0)
    })
  )
})

describe("PagerDuty's documented limits", () => {
  it.effect("a summary past 1024 characters is cut there, the cut marked", () =>
    Effect.gen(function* () {
      const http = fakeHttp(() => ({ status: 202, headers: {}, body: "{}" }))
      const long = notificationFor(api, { status: 2, timestamp: new Date(T), triggeredMetrics: [], matchedExpression: "y".repeat(1_000_000) })
      yield* Effect.flatMap(TestTarget, (p) => p.notify(long)).pipe(Effect.provide(targetLayer(ADAPTERS.pagerduty, specOf("pagerduty", { url: "http://pd.test/v2/enqueue", routing_key: "R0UT1NGKEY0123456789abcdef012345", name: "oncall" }), http.layer)))
      const summary = JSON.parse(http.requests[0]!.body).payload.summary as string
      expect(summary).toHaveLength(1024)
      expect(summary.startsWith("api in production: outage (matched yyy")).toBe(true)
      expect(summary.endsWith("…")).toBe(true)
    })
  )
})

describe("Slack", () => {
  it.live("posts one readable message: service, environment, status word and why", () =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 200, body: "ok" })))
      const spec = specOf("slack", { webhook_url: `${peer.url}/services/T000/B000/XXXX` })
      expect(yield* live(spec, (p) => p.notify(outage())).pipe(closing(peer))).toEqual(DELIVERED)
      const req = peer.seen[0]!
      expect(`${req.method} ${req.path}`).toBe("POST /services/T000/B000/XXXX")
      expect(JSON.parse(req.body)).toEqual({
        text: "*api* in *production* is *outage* (status 2) since 2024-01-20T12:03:00.000Z\nWhy: matched api.api_down; triggered api.api_down; region eu-de"
      })
    })
  )

  it.live("escapes what the convertor and the configuration say (no mention, no link), and cuts a field past 1000 characters", () =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 200, body: "ok" })))
      const spec = specOf("slack", { webhook_url: `${peer.url}/services/T000/B000/XXXX` })
      const hostile = notificationFor(
        { name: "api<@U123>", environment: "prod&<!here>" },
        { status: 2, timestamp: new Date(T), triggeredMetrics: [], matchedExpression: `<!channel> <@U123> <http://evil.example|click here> ${"x".repeat(1_000_000)}` }
      )
      yield* live(spec, (p) => p.notify(hostile)).pipe(closing(peer))
      const text = JSON.parse(peer.seen[0]!.body).text as string
      expect(text).toContain("*api&lt;@U123&gt;* in *prod&amp;&lt;!here&gt;*")
      expect(text).toContain("Why: matched &lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click here&gt; xxx")
      expect(text).not.toMatch(/<[!@h]/)
      expect(text.length).toBeLessThan(1200)
      expect(text.endsWith("…")).toBe(true)
    })
  )

  it.effect("its documented errors are final (404 channel_not_found, 410, 400), 500 is retried; the webhook URL is never shown", () =>
    Effect.gen(function* () {
      const hook = "https://hooks.slack.test/services/T000/B000/SECRETPART"
      for (const [status, body] of [[404, "channel_not_found"], [410, "channel_is_archived"], [400, "invalid_payload"]] as const) {
        const http = fakeHttp(() => text(status, body))
        const error = yield* Effect.flatMap(TestTarget, (p) => Effect.flip(p.notify(outage()))).pipe(Effect.provide(targetLayer(ADAPTERS.slack, specOf("slack", { webhook_url: hook }), http.layer)))
        expect(http.requests).toHaveLength(1)
        expect(error.message).toContain(body)
        expect(error.message).not.toContain("SECRETPART")
      }
      const http = fakeHttp((_, n) => (n === 1 ? text(500, "oops") : text(200, "ok")))
      const fiber = yield* Effect.fork(Effect.flatMap(TestTarget, (p) => p.notify(outage())).pipe(Effect.provide(targetLayer(ADAPTERS.slack, specOf("slack", { webhook_url: hook }), http.layer))))
      yield* advance("3 seconds", "500 millis")
      expect(yield* Fiber.join(fiber)).toEqual(DELIVERED)
      const described = yield* Effect.flatMap(TestTarget, (p) => p.rehearse(outage())).pipe(Effect.provide(targetLayer(ADAPTERS.slack, specOf("slack", { webhook_url: hook }), fakeHttp(() => text(200, "ok")).layer)))
      expect(described).not.toContain("SECRETPART")
    })
  )
})

describe("webhook", () => {
  it.live("posts the generic body to the URL as given, with the configured headers and no JWT without a secret", () =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 204 })))
      const spec = specOf("webhook", { url: `${peer.url}/cloudmon`, headers: { "X-Token": "t0ken" } })
      expect(yield* live(spec, (p) => p.notify(outage())).pipe(closing(peer))).toEqual(DELIVERED)
      const req = peer.seen[0]!
      expect(`${req.method} ${req.path}`).toBe("POST /cloudmon")
      expect(req.headers["x-token"]).toBe("t0ken")
      expect(req.headers["authorization"]).toBeUndefined()
      expect(JSON.parse(req.body)).toEqual({ service: "api", environment: "production", status: 2, message: "Service outage", timestamp: "2024-01-20T12:03:00Z" })
    })
  )

  it.live("signs a JWT when a secret is set; a rehearsal names the headers, never their values", () =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(() => ({ status: 200 })))
      const spec = specOf("webhook", { url: peer.url, secret: SECRET, headers: { "X-Token": "t0ken" } })
      const described = yield* live(spec, (p) => Effect.zipRight(p.notify(outage()), p.rehearse(outage()))).pipe(closing(peer))
      const token = peer.seen[0]!.headers["authorization"]!.replace(/^Bearer /, "")
      const { payload } = yield* Effect.promise(() => jwtVerify(token, new TextEncoder().encode(SECRET)))
      expect(payload).toMatchObject({ service: "api", environment: "production", status: 2 })
      expect(described).toContain("X-Token")
      expect(described).not.toContain("t0ken")
    })
  )
})

describe("recoveries, in each protocol's form", () => {
  const recovered = (service: ServiceRef = api): Notification => ({ ...notificationFor(service, { status: 0, timestamp: new Date(T), triggeredMetrics: [] }), message: "Service recovered" })
  /** A recovery of a service last delivered as `previous`. */
  const wire = (type: TargetType, raw: (url: string) => Record<string, unknown>, answer: Parameters<typeof startPeer>[0] = () => ({ status: 200, body: {} }), previous = 0) =>
    Effect.gen(function* () {
      const peer = yield* Effect.promise(() => startPeer(answer))
      const delivery = yield* live(specOf(type, raw(peer.url)), (p) => p.notify({ ...recovered(), previous })).pipe(closing(peer))
      return { delivery, seen: peer.seen }
    })

  it.live("generic and webhook: status 0, \"Service recovered\"", () =>
    Effect.gen(function* () {
      for (const type of ["generic", "webhook"] as const) {
        const { seen } = yield* wire(type, (url) => ({ url, secret: SECRET }))
        expect(JSON.parse(seen[0]!.body)).toMatchObject({ service: "api", status: 0, message: "Service recovered" })
      }
    })
  )

  it.live("PagerDuty: resolve with the same dedup_key", () =>
    Effect.gen(function* () {
      const { seen } = yield* wire("pagerduty", (url) => ({ url, routing_key: "R0UT1NGKEY0123456789abcdef012345" }), () => ({ status: 202 }))
      expect(JSON.parse(seen[0]!.body)).toEqual({ routing_key: "R0UT1NGKEY0123456789abcdef012345", event_action: "resolve", dedup_key: "api/production" })
    })
  )

  it.live("Statuspage: operational", () =>
    Effect.gen(function* () {
      // The component shows what this reporter set (an outage): a recovery sets it back.
      const { seen } = yield* wire("statuspage", (url) => ({ url, api_key: "k", page_id: "p", components: { "api/production": "c1" } }), (req) => ({
        status: 200,
        body: req.method === "PATCH" ? {} : req.path.endsWith("/unresolved") ? [] : { status: "major_outage" }
      }), 2)
      expect(JSON.parse(seen.find((r) => r.method === "PATCH")!.body)).toEqual({ component: { status: "operational" } })
    })
  )

  it.live("Slack: a recovery message", () =>
    Effect.gen(function* () {
      const { seen } = yield* wire("slack", (url) => ({ webhook_url: `${url}/services/x` }), () => ({ status: 200, body: "ok" }))
      expect(JSON.parse(seen[0]!.body)).toEqual({ text: "*api* in *production* has *recovered* (status 0) at 2024-01-20T12:03:00.000Z" })
    })
  )
})
