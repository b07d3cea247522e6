import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Context from "effect/Context"
import { Maintenance } from "../src/Maintenance.js"
import * as Policy from "../src/Policy.js"
import * as PolicyStore from "../src/PolicyStore.js"
import { fileBackend } from "../src/State/File.js"
import { type InMaintenance, type NotifyPolicy, policyFor } from "../src/Policy.js"
import type { ReporterConfig } from "../src/Config.js"
import type { Adapter, AdapterContext, TargetPort, TargetSpec } from "../src/Target.js"
import * as RateLimits from "../src/RateLimits.js"
import type { ServiceRef } from "../src/Domain.js"
import { HttpFault, type Limits, type Reply, type Request, timedOut, Transport } from "../src/Transport.js"
import { format } from "../src/Logging.js"
import * as Schema from "effect/Schema"
import { targetSchema } from "../src/Config/Schema.js"
import { REGISTRY, type SecretKey, type TargetType } from "../src/Target/registry.js"

export const SECRET = "test-secret-that-is-long-enough-for-hs256!"

/** The primary dashboard as the loader resolves it: generic, with the test secret. */
export const dashboardSpec: TargetSpec = {
  type: "generic",
  name: "dashboard",
  path: "status_dashboard",
  settings: { url: "http://dashboard.test", timeout: Duration.seconds(10) },
  secrets: { secret: Redacted.make(SECRET) },
  secretMaps: {}
}

/** A configuration as the loader would produce it; the overrides are what tests vary. */
export const testConfig = (
  over: { readonly pollInterval?: Duration.Duration; readonly concurrency?: number; readonly services?: ReadonlyArray<ServiceRef> } = {}
): ReporterConfig => ({
  source: "test.yaml",
  convertor: { url: "http://convertor.test", timeout: Duration.seconds(10) },
  status_dashboard: { type: "generic", url: "http://dashboard.test", secret: Redacted.make(SECRET), timeout: Duration.seconds(10) },
  notifiers: [],
  notify: {},
  maintenance: [],
  reporter: {
    maintenances: false,
    blind_after: 3,
    poll_interval: over.pollInterval ?? Duration.seconds(60),
    concurrency: over.concurrency ?? 4,
    window: { from: Duration.minutes(5), to: Duration.minutes(2) },
    services: over.services ?? [{ name: "api", environment: "production" }]
  },
  observability: {},
  targets: [dashboardSpec]
})

/** One target's port, for tests that drive an adapter directly. */
export class TestTarget extends Context.Tag("test/Target")<TestTarget, TargetPort>() {}

/** The port `adapter` builds for `spec` over `transport`, with the default 27 s budget (45% of 60 s). */
export const targetLayer = <Settings>(
  adapter: Adapter<Settings>,
  spec: TargetSpec,
  transport: Layer.Layer<Transport>,
  context: Partial<AdapterContext> = {}
) =>
  Layer.scoped(
    TestTarget,
    adapter.make(spec as TargetSpec<Settings>, { budget: context.budget ?? Duration.seconds(27), services: context.services ?? [{ name: "api", environment: "production" }] })
  ).pipe(Layer.provide(Layer.merge(transport, RateLimits.layer)))

export const api: ServiceRef = { name: "api", environment: "production" }

export interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly limits: Limits
}

export type Answer = Reply | "refused" | "reset" | "hang"

/**
 * A fake Transport: `answer` decides per request. Records every request it
 * was given, so tests can count attempts and read what was sent. The real
 * one (NodeTransport) has its own tests against loopback servers.
 */
export const fakeHttp = (answer: (req: Recorded, n: number) => Answer) => {
  const requests: Array<Recorded> = []
  const exchange = (request: Request, limits: Limits): Effect.Effect<Reply, HttpFault> =>
    Effect.suspend(() => {
      const recorded: Recorded = { method: request.method, url: new URL(request.url), headers: request.headers, body: request.body ?? "", limits }
      requests.push(recorded)
      const a = answer(recorded, requests.length)
      if (a === "hang") return Effect.never
      if (a === "refused") return Effect.fail(new HttpFault({ kind: "Refused", detail: "connection refused" }))
      if (a === "reset") return Effect.fail(new HttpFault({ kind: "Reset", detail: "connection reset by peer" }))
      return Effect.succeed(a)
    }).pipe(Effect.timeoutFail({ duration: limits.timeout, onTimeout: () => timedOut(limits.timeout) }))
  return { requests, layer: Layer.succeed(Transport, { exchange }) }
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

export const text = (status: number, body: string): Reply => ({ status, headers: {}, body })

/** Collects formatted log lines (text format) for assertions. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((entry) => void lines.push(format("text", entry)))
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** One turn of Node's event loop: lets real async work (jose's WebCrypto signing) complete. */
const macrotask = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Moves the TestClock in small steps. Signing a JWT is real async work
 * (WebCrypto), so after each step real macrotasks run until `settled` holds
 * (or briefly, when it is not given): what the step woke up gets to finish.
 */
export const advance = (total: Duration.DurationInput, step: Duration.DurationInput = "50 millis") =>
  Effect.gen(function* () {
    const steps = Math.ceil(Duration.toMillis(total) / Duration.toMillis(step))
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      for (let spin = 0; spin < 5; spin++) yield* macrotask
    }
  })

/**
 * Waits for what real async work (file I/O, sockets, WebCrypto) must bring
 * about, turn by turn of the event loop, for at most 5 s of real time: a
 * condition, never a fixed sleep.
 */
export const eventually = (what: string, cond: () => boolean) =>
  Effect.gen(function* () {
    const until = performance.now() + 5_000
    while (!cond() && performance.now() < until) yield* macrotask
    if (!cond()) return yield* Effect.die(new Error(`never happened: ${what}`))
  })

/** The policy's store for `targets` (each a generic dashboard by that name) over every service, with a state file when given. */
export const storeLayer = (targets: ReadonlyArray<string>, stateFile?: string, services?: ReadonlyArray<ServiceRef>) =>
  Layer.unwrapEffect(
    Effect.map(stateFile === undefined ? Effect.succeed(undefined) : fileBackend(stateFile), (backend) =>
      PolicyStore.layer({ services: services ?? [api], targets: targets.map((name) => ({ ...dashboardSpec, name })), backend })
    )
  ).pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))

/** The policy and maintenance services for cycle tests: each named target with its mode (default: every poll, as the generic dashboard). */
export const policyLayers = (
  policies: Record<string, Partial<NotifyPolicy>> = { dashboard: {} },
  options: { readonly stateFile?: string; readonly inMaintenance?: InMaintenance; readonly services?: ReadonlyArray<ServiceRef> } = {}
) => {
  const maintenance = Layer.succeed(Maintenance, {
    refresh: Effect.void,
    covers: options.inMaintenance ?? (() => false)
  })
  const policy = Policy.layer({
    policies: new Map(Object.entries(policies).map(([name, p]) => [name, { ...policyFor(p.mode ?? "every_poll"), ...p }])),
    inMaintenance: options.inMaintenance ?? (() => false)
  }).pipe(Layer.provideMerge(storeLayer(Object.keys(policies), options.stateFile, options.services)))
  return Layer.merge(maintenance, policy)
}

/** A target as the loader resolves it from `raw` (defaults filled by the type's own schema). */
export const specOf = (type: TargetType, raw: Record<string, unknown>, path = "notifiers[0]"): TargetSpec => {
  const decoded = Schema.decodeUnknownSync(targetSchema(type) as unknown as Schema.Schema<Record<string, unknown>>)({ type, ...raw })
  const keys = REGISTRY[type].secrets as ReadonlyArray<SecretKey>
  const secrets = Object.fromEntries(keys.flatMap(({ key, map }) => (map || decoded[key] === undefined ? [] : [[key, decoded[key]]])))
  const secretMaps = Object.fromEntries(keys.flatMap(({ key, map }) => (map ? [[key, decoded[key] ?? {}]] : [])))
  return { type, name: (raw["name"] as string | undefined) ?? type, path, settings: decoded, secrets, secretMaps } as TargetSpec
}
