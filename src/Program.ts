/**
 * What one invocation does, once the command line is parsed: load the
 * configuration, then run one cycle (`--once`) or the daemon. Returns the
 * exit code; expected failures never escape as exceptions.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { phaseBudget } from "./Budget.js"
import { AppConfig, load, reportConfigError, type ReporterConfig } from "./Config.js"
import { Convertor } from "./Convertor.js"
import { Targets, type TargetStartError } from "./Dashboard.js"
import { ADAPTERS, type TargetType } from "./Dashboard/adapters.js"
import type { NotifySection } from "./Config/Fields.js"
import { safeUrl } from "./Domain.js"
import * as Maintenance from "./Maintenance.js"
import * as Policy from "./Policy.js"
import { defaultMode, policyFor } from "./Policy.js"
import * as RateLimits from "./RateLimits.js"
import type { Transport } from "./Transport.js"
import * as Logging from "./Logging.js"
import { type CycleServices, DryRun, runCycle, runForever } from "./Reporter.js"
import { Metrics, NONE } from "./Metrics.js"
import * as Observability from "./Observability.js"
import { reloading } from "./Reload.js"
import { validate } from "./Validate.js"
import * as Context from "effect/Context"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Shutdown from "./Shutdown.js"

export interface RunOptions {
  readonly configFile: string
  readonly once: boolean
  readonly dryRun: boolean
  readonly logFormat: Logging.LogFormat
  /** From --log-level; when absent, LOG_LEVEL or RUST_LOG apply. */
  readonly logLevel: Option.Option<LogLevel.LogLevel>
  readonly env: Record<string, string | undefined>
  readonly version: string
  /** `validate` (Validate.ts) instead of a run; `--connect` with it. */
  readonly validate?: { readonly connect: boolean }
}

export const ExitCode = { Ok: 0, CycleFailed: 1, BadConfig: 2 } as const

/** The reporter's services for one configuration: the convertor, and every target built by its adapter. */
export const servicesLayer = (
  config: ReporterConfig,
  options: { readonly dryRun: boolean; readonly tracks?: Map<string, Policy.Track> }
): Layer.Layer<CycleServices | DryRun, TargetStartError, Transport | FileSystem.FileSystem | RateLimits.RateLimits> => {
  const context = { budget: phaseBudget(config.reporter.poll_interval), services: config.reporter.services }
  const targets = Layer.scoped(
    Targets,
    Effect.forEach(config.targets, (spec) => ADAPTERS[spec.type as TargetType].make(spec, context))
  )
  const policies = new Map(
    config.targets.map((t) => [t.name, policyFor(defaultMode(ADAPTERS[t.type as TargetType].kind), config.notify, (t.settings as { notify?: NotifySection }).notify)])
  )
  const maintenance = Maintenance.layer.pipe(Layer.provide(Convertor.Default))
  const policy = Layer.unwrapEffect(
    Effect.map(Maintenance.Maintenance, (m) =>
      Policy.layer({ policies, inMaintenance: m.covers, stateFile: Option.fromNullable(config.reporter.state_file), services: config.reporter.services, ...(options.tracks ? { tracks: options.tracks } : {}) })
    )
  ).pipe(Layer.provide(maintenance))
  return Layer.mergeAll(Convertor.Default, targets, maintenance, policy, Layer.succeed(DryRun, options.dryRun)).pipe(
    Layer.provideMerge(Layer.succeed(AppConfig, config))
  )
}

const describe = (config: ReporterConfig, options: RunOptions): string =>
  `cloudmon-metrics-reporter ${options.version} starting${options.dryRun ? " (dry run: nothing is sent)" : ""}: ` +
  `${config.reporter.services.length} service(s) every ${Duration.format(config.reporter.poll_interval)}, ` +
  `convertor ${safeUrl(config.convertor.url)}, ` +
  `${config.targets.length} target(s) (${config.targets.map((t) => `${t.name}: ${t.type}`).join(", ")}), ` +
  `concurrency ${config.reporter.concurrency}`

/**
 * One debug line per cycle about the process itself: what a soak run, or an
 * SRE wondering about a slow host, reads. The event-loop histogram is reset
 * each cycle, so its figures are per cycle.
 */
const processStats = () => {
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
  const ms = (nanos: number) => (nanos / 1e6).toFixed(1)
  return {
    log: Effect.suspend(() => {
      const memory = process.memoryUsage()
      const line =
        `Process stats: rss_mb=${mb(memory.rss)} heap_used_mb=${mb(memory.heapUsed)} ` +
        `event_loop_delay_p99_ms=${ms(loop.percentile(99))} event_loop_delay_max_ms=${ms(loop.max)}`
      loop.reset()
      return Effect.logDebug(line)
    })
  }
}

const fatal = (message: string) => Effect.as(Logging.logErrorAlways(message), ExitCode.CycleFailed)

/** `--once`: one cycle; SIGHUP is only logged. */
const once = (config: ReporterConfig, options: RunOptions) =>
  Effect.gen(function* () {
    yield* Shutdown.ignoreHangups
    const services = yield* Effect.either(Layer.build(servicesLayer(config, options).pipe(Layer.provide(RateLimits.layer))))
    if (services._tag === "Left") return yield* fatal(services.left.message)
    const summary = yield* runCycle.pipe(
      Effect.onInterrupt(() =>
        Effect.zipRight(
          Shutdown.markCutShort,
          Effect.logError(
            `Stop requested during --once: the cycle was cut short (notifications in flight were given time to finish); exiting with ${Shutdown.signalExitCode()}`
          )
        )
      ),
      Effect.provide(services.right)
    )
    return summary.failed > 0 || summary.late > 0 ? ExitCode.CycleFailed : ExitCode.Ok
  })

/**
 * The daemon: the metrics and health endpoint when asked for, the first
 * configuration's services, live reload on SIGHUP, and the loop.
 */
const daemon = (config: ReporterConfig, options: RunOptions) =>
  Effect.gen(function* () {
    const listen = config.observability.listen
    const endpoint = listen === undefined ? undefined : yield* Effect.either(Observability.serve(listen, options.version, config.reporter.poll_interval))
    if (endpoint?._tag === "Left") return yield* fatal(endpoint.left.message)
    const observed = endpoint?.right
    if (observed !== undefined) yield* Effect.logInfo(`Metrics and health endpoint on ${observed.url} (/metrics, /healthz, /readyz)`)
    return yield* serveCycles(config, options, observed).pipe(Effect.provideService(Metrics, observed?.metrics ?? NONE))
  })

const serveCycles = (config: ReporterConfig, options: RunOptions, observed: Observability.Endpoint | undefined) =>
  Effect.gen(function* () {
    const rateLimits = yield* Layer.build(RateLimits.layer)
    /** A configuration's services, built in the scope it runs in; the policy's tracks are shared from the second on. */
    const build = (c: ReporterConfig, tracks?: Map<string, Policy.Track>) =>
      Effect.flatMap(Effect.scope, (scope) => Layer.buildWithScope(servicesLayer(c, { dryRun: options.dryRun, ...(tracks ? { tracks } : {}) }), scope)).pipe(
        Effect.provide(rateLimits)
      )
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const first = yield* Effect.either(Scope.extend(build(config), scope))
    if (first._tag === "Left") return yield* Effect.zipRight(Scope.close(scope, Exit.void), fatal(first.left.message))
    const tracks = Context.get(first.right, Policy.Policy).tracks
    const applied = (c: ReporterConfig) =>
      Effect.sync(() => {
        if (observed === undefined) return
        observed.state.nextInterval = c.reporter.poll_interval
        observed.knownTargets(c.targets.map((t) => t.name))
        observed.state.notReady = undefined
      })
    yield* applied(config)
    const current = yield* reloading({
      file: options.configFile,
      env: options.env,
      first: { config, context: first.right, scope },
      tracks,
      build: (c) => build(c, tracks),
      describe: (e: TargetStartError) => e.message,
      applied
    })
    const stats = processStats()
    return yield* runForever(() => stats.log, current).pipe(
      Effect.onInterrupt(() => Effect.logInfo("Stop requested: finished notifications in flight, exiting"))
    )
  })

export const run = (
  options: RunOptions
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Transport> => {
  const program = Effect.gen(function* () {
    if (options.validate !== undefined) return yield* validate({ ...options, ...options.validate })
    const loaded = yield* Effect.either(load(options.configFile, options.env))
    if (loaded._tag === "Left") return yield* Effect.as(reportConfigError(loaded.left), ExitCode.BadConfig)
    const { config, warnings } = loaded.right
    for (const warning of warnings) yield* Effect.logWarning(warning)
    yield* Effect.logInfo(describe(config, options))

    return yield* options.once ? once(config, options) : daemon(config, options)
  }).pipe(
    Effect.scoped,
    // A defect is a bug of ours: one line saying so, exit 1, and no stack trace for the user.
    Effect.catchAllDefect((defect) =>
      Effect.logError(`Internal error (please report it): ${Cause.pretty(Cause.die(defect)).split("\n")[0]}`).pipe(
        Effect.as(ExitCode.CycleFailed)
      )
    )
  )
  const level = Option.getOrElse(options.logLevel, () => Logging.levelFromEnv(options.env))
  return program.pipe(Logger.withMinimumLogLevel(level), Effect.provide(Logging.layer(options.logFormat)))
}
