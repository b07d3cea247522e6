/**
 * The Stackmon Status Dashboard (docs/protocols.md §3; the servers' rules,
 * with their source lines, in docs/stackmon-servers.md). The components are
 * read at start-up (and again on a miss); each service maps to exactly one
 * of them (Stackmon/Components.ts). API v2, the Go server, is reconciled
 * incident by incident (Stackmon/V2.ts); API v1, the Python server's, can
 * only open and raise (Stackmon/V1.ts). One write at a time: neither server
 * locks its read-then-write grouping of components into incidents
 * (status-dashboard-v3:internal/db/db.go:197-305; status-dashboard:app/api/routes.py:380,
 * 56-80), so concurrent posts split one impact into several incidents.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { type Adapter, type Delivery, labelOf, TargetStartError, type TargetPort, type TargetSpec } from "../Target.js"
import { type Notification, safeUrl, serviceId, type ServiceRef, serviceKey } from "../Domain.js"
import { peerMessage } from "../PeerError.js"
import { Transport } from "../Transport.js"
import { makeSigner } from "../Jwt.js"
import type { SettingsOf } from "./registry.js"
import { makeSender, signerFor, signFailed } from "./Sender.js"
import { advice404, authHeaders, COMPONENTS_PATH, type ReadFailure, readComponents } from "./Stackmon/Api.js"
import { type Component, match, type Match, matchAll, matchProblem, wantedFor } from "./Stackmon/Components.js"
import { makeV1 } from "./Stackmon/V1.js"
import { makeV2 } from "./Stackmon/V2.js"

type Settings = SettingsOf<"stackmon">

/** Start-up: three attempts, 1 s and 2 s apart (upstream waits 60 s; a daemon that cannot start should say so sooner). */
const STARTUP_RETRY = Schedule.exponential(Duration.seconds(1)).pipe(Schedule.intersect(Schedule.recurs(2)))

/** The impact for a convertor status: 1 degraded, 2 outage; 0 is a recovery. */
const impactFor = (s: Settings, status: number): number => (status === 0 ? 0 : status >= 2 ? s.impact.outage : s.impact.degraded)

/** Why the components could not be read at start-up, with the settings that work when the other API answers. */
const readFailed = (spec: { readonly path: string; readonly settings: Settings }, failure: ReadFailure, attempts: string) =>
  Effect.gen(function* () {
    const s = spec.settings
    const peer = safeUrl(s.url)
    const advice = failure.status === 404 ? yield* advice404(s.url, s.api, spec.path, s.timeout) : `check ${spec.path}.url and that the dashboard is up`
    return new TargetStartError({
      message: `Stackmon dashboard at ${peer} (${spec.path}): could not read its components (GET ${COMPONENTS_PATH[s.api]})${attempts}: ${failure.detail}; ${advice}`
    })
  })

export const Stackmon: Adapter<Settings> = {
  check: (spec, services) => check(spec, services),
  make: (spec, { budget, services }) =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const s = spec.settings
      const peer = safeUrl(s.url)
      const secret = spec.secrets["secret"]
      const signer = secret === undefined ? undefined : yield* signerFor(spec, secret)
      const sender = yield* makeSender(spec, budget, { peer, authHint: `check ${spec.path}.secret` })
      const headers = (n: Notification, now: number) => authHeaders(signer, now).pipe(Effect.mapError(() => signFailed(sender, n)))
      const startHeaders = Effect.flatMap(Clock.currentTimeMillis, (now) => authHeaders(signer, now)).pipe(
        Effect.mapError((): ReadFailure => ({ detail: "could not sign the token", transient: false }))
      )
      const read = Effect.flatMap(startHeaders, (h) => readComponents(s.url, s.api, h, s.timeout)).pipe(Effect.provideService(Transport, transport))

      let components = yield* read.pipe(
        Effect.retry({ schedule: STARTUP_RETRY, while: (f) => f.transient }),
        Effect.catchAll((f) => Effect.flatMap(readFailed(spec, f, f.transient ? " in 3 attempts" : ""), Effect.fail)),
        Effect.provideService(Transport, transport)
      )
      yield* Effect.logInfo(`Stackmon dashboard at ${peer} (API ${s.api}): ${components.length} component(s) read`)

      const where = { peer, path: spec.path }
      /** A service without exactly one component is said once at warn, then at debug. */
      const said = new Set<string>()
      const problemOf = (service: ServiceRef, m: Match) => matchProblem(m, service, wantedFor(s, service), where)
      const byRegion = s.api === "v1"
      const matchEvery = () => matchAll(components, services, (service) => wantedFor(s, service), byRegion)
      let matched = matchEvery()
      let matches = new Map(matched.map(({ match: m, service }) => [serviceId(service), m]))
      const warned = new Set<string>()
      for (const { service, match: m } of matched) {
        const problem = problemOf(service, m)
        if (problem !== undefined) {
          said.add(`${serviceKey(service)}\u0000${problem}`)
          // A component two services claim is one warning.
          if (!warned.has(problem)) yield* Effect.logWarning(problem)
          warned.add(problem)
        }
      }

      const v2 = s.api === "v2" ? makeV2({ url: s.url, sender, headers }) : undefined
      const v1 = makeV1({ url: s.url, sender, headers })

      let shown: TargetPort["shown"] = []
      if (v2 !== undefined) {
        const managed = new Set(matched.flatMap(({ match: m }) => (m._tag === "One" ? [m.component.id] : [])))
        const get = (path: string) =>
          Effect.flatMap(startHeaders, (h) => transport.exchange({ method: "GET", url: `${s.url}${path}`, headers: h }, { timeout: s.timeout, maxBytes: 4 * 1024 * 1024 })).pipe(
            Effect.mapError((e) => ("detail" in e ? e.detail : "could not sign the token"))
          )
        const impacts = yield* v2.load(managed, get).pipe(
          Effect.retry(STARTUP_RETRY),
          Effect.mapError(
            (why) =>
              new TargetStartError({
                message: `Stackmon dashboard at ${peer} (${spec.path}): could not read its open system incidents in 3 attempts: ${why}; check that the dashboard is up`
              })
          )
        )
        shown = matched.flatMap(({ match: m, service }) => {
          const impact = m._tag === "One" ? impacts.get(m.component.id) : undefined
          return impact === undefined ? [] : [{ service, status: impact >= s.impact.outage ? 2 : 1 }]
        })
        if (impacts.size > 0) yield* Effect.logInfo(`Stackmon dashboard at ${peer}: ${impacts.size} managed component(s) in open system incidents, taken as ours`)
      }

      /** The service's component, from the list or, on a miss, from the dashboard read once more. */
      const componentFor = (n: Notification): Effect.Effect<Match> =>
        Effect.gen(function* () {
          const cached = matches.get(serviceId(n.service)) ?? match(components, wantedFor(s, n.service), byRegion)
          if (cached._tag !== "None") return cached
          const fresh = yield* Effect.either(read)
          if (fresh._tag === "Right") {
            components = fresh.right
            matched = matchEvery()
            matches = new Map(matched.map(({ match: m, service }) => [serviceId(service), m]))
          }
          return matches.get(serviceId(n.service)) ?? match(components, wantedFor(s, n.service), byRegion)
        })

      const refused = (n: Notification, m: Exclude<Match, { _tag: "One" }>): Delivery => {
        const problem = problemOf(n.service, m)!
        const key = `${serviceKey(n.service)}\u0000${problem}`
        const first = !said.has(key)
        said.add(key)
        // It may yet be right: a component added, an attribute set. It stays due.
        return { _tag: "Skipped", why: problem, level: first ? "warn" : "debug", final: false }
      }

      const lock = yield* Effect.makeSemaphore(1)
      const withComponent = <A, E>(n: Notification, use: (c: Component, impact: number) => Effect.Effect<A, E>, otherwise: (m: Exclude<Match, { _tag: "One" }>) => A) =>
        Effect.flatMap(componentFor(n), (m) => (m._tag === "One" ? use(m.component, impactFor(s, n.status)) : Effect.succeed(otherwise(m))))

      return {
        name: spec.name,
        target: `Stackmon dashboard (API ${s.api}) at ${peer}`,
        concurrency: 1,
        shown,
        notify: (n) =>
          lock.withPermits(1)(
            withComponent(n, (c, impact) => (v2 !== undefined ? v2.notify(n, c, impact) : v1.notify(n, c, impact)), (m) => refused(n, m))
          ),
        rehearse: (n) =>
          withComponent(
            n,
            (c, impact) => Effect.succeed(`${peer} ${v2 !== undefined ? v2.describe(n, c, impact) : v1.describe(n, c, impact)}`),
            (m) => `nothing: ${problemOf(n.service, m)}`
          )
      } satisfies TargetPort
    })
}

/**
 * `validate --connect`: the components (and, on a 404, which API answers
 * instead), the credentials through a request each server authenticates
 * before it looks anything up and that can change nothing, and each
 * service's component.
 * - v2: `PATCH /v2/events/0`: the token is checked first (routes.go:82-85,
 *   middleware.go:88-109: 401); with a good one, id 0 fails the URI binding
 *   (`required,gte=0`, v2.go:25; middleware.go:167-169: 400), and an
 *   unknown id would be 404: nothing is found, nothing changed.
 * - v1: `POST /v1/component_status` with impact 99: the Python server
 *   checks the token (routes.py:275-277: 401), then refuses the impact
 *   before any lookup (routes.py:325-328: 400); the Go server checks the
 *   token, then binds `impact` 1..3 (v1.go:205-210: 400). Never `GET /`,
 *   which fills the Python page cache (app/web/routes.py:41-43).
 */
const check = (spec: TargetSpec<Settings>, services: ReadonlyArray<ServiceRef>) =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const label = labelOf(spec)
    const s = spec.settings
    const peer = safeUrl(s.url)
    const secret = spec.secrets["secret"]
    const made = secret === undefined ? undefined : yield* Effect.either(makeSigner(secret))
    if (made?._tag === "Left") return [{ ok: false, line: `${label}: ${spec.path}.secret cannot be used as an HMAC key` }]
    const signer = made?.right
    const headers = yield* Effect.flatMap(Clock.currentTimeMillis, (now) => authHeaders(signer, now)).pipe(Effect.orElseSucceed(() => undefined))
    if (headers === undefined) return [{ ok: false, line: `${label}: could not sign the token` }]

    const what = `GET ${COMPONENTS_PATH[s.api]}`
    const read = yield* Effect.either(readComponents(s.url, s.api, headers, s.timeout))
    if (read._tag === "Left") {
      const f = read.left
      if (f.status === 404) return [{ ok: false, line: `${label} at ${peer} (${what}): answered 404; ${yield* advice404(s.url, s.api, spec.path, s.timeout)}` }]
      return [{ ok: false, line: `${label} at ${peer} (${what}): ${f.status === undefined ? `unreachable: ${f.detail}` : `reachable, but ${f.detail}`}` }]
    }
    const components = read.right
    const results: Array<{ ok: boolean; line: string }> = [{ ok: true, line: `${label} at ${peer} (${what}): reachable, ${components.length} component(s)` }]

    const probe =
      s.api === "v2"
        ? { method: "PATCH" as const, path: "/v2/events/0", body: "{}" }
        : { method: "POST" as const, path: "/v1/component_status", body: JSON.stringify({ name: "cloudmon-metrics-reporter credential check", impact: 99, text: "never stored", attributes: [{ name: "region", value: "none" }] }) }
    const asked = `${probe.method} ${probe.path}`
    const reply = yield* Effect.either(transport.exchange({ method: probe.method, url: `${s.url}${probe.path}`, headers, body: probe.body }, { timeout: s.timeout, maxBytes: 64 * 1024, oversize: "truncate" }))
    if (reply._tag === "Left") {
      results.push({ ok: false, line: `${label} at ${peer} (${asked}): unreachable: ${reply.left.detail}` })
    } else {
      const { status, body } = reply.right
      const said = peerMessage(body) ? `: ${peerMessage(body)}` : ""
      if (status === 401 || status === 403) {
        results.push({
          ok: false,
          line: `${label} at ${peer} (${asked}): ${secret === undefined ? `the dashboard wants a token (${status}${said}); set ${spec.path}.secret` : `the credentials were refused (${status}${said}); check ${spec.path}.secret`}`
        })
      } else if (status >= 200 && status < 300) {
        results.push({ ok: false, line: `${label} at ${peer} (${asked}): answered ${status} where a Stackmon dashboard refuses the request; is ${spec.path}.url a Stackmon dashboard?` })
      } else {
        results.push({
          ok: true,
          line: `${label} at ${peer} (${asked}): ${secret === undefined ? "writes are taken without a token" : "credentials accepted"} (answered ${status} after authentication; nothing was changed)`
        })
      }
    }

    const problems = matchAll(components, services, (service) => wantedFor(s, service), s.api === "v1").flatMap(({ match: m, service }) => {
      const problem = matchProblem(m, service, wantedFor(s, service), { peer, path: spec.path })
      return problem === undefined ? [] : [problem]
    })
    // A component two services claim is one problem, said once.
    for (const problem of new Set(problems)) results.push({ ok: false, line: `${label}: ${problem}` })
    if (problems.length === 0 && services.length > 0) results.push({ ok: true, line: `${label} at ${peer}: each of the ${services.length} service(s) has its component` })
    return results
  })
