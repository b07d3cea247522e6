/**
 * What one invocation does, once the command line is parsed: load the
 * configuration, then run one cycle (`--once`) or the daemon. Returns the
 * exit code; expected failures never escape as exceptions.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { access, constants, stat } from "node:fs/promises"
import { dirname } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { phaseBudget } from "./Budget.js"
import { AppConfig, ConfigError, load, reportConfigError, type ReporterConfig } from "./Config.js"
import { Convertor } from "./Convertor.js"
import { safeUrl } from "./Domain.js"
import * as Generations from "./Generations.js"
import * as Ha from "./Ha.js"
import * as Hangups from "./Hangups.js"
import { ALWAYS, Leadership } from "./Leadership.js"
import * as Liveness from "./Liveness.js"
import * as Logging from "./Logging.js"
import * as Maintenance from "./Maintenance.js"
import * as Memory from "./Memory.js"
import { count, Metrics, NONE } from "./Metrics.js"
import * as Observability from "./Observability.js"
import * as Policy from "./Policy.js"
import * as PolicyStore from "./PolicyStore.js"
import * as RateLimits from "./RateLimits.js"
import { type CycleServices, DryRun, runCycle, runForever } from "./Reporter.js"
import * as Shutdown from "./Shutdown.js"
import { fileBackend } from "./State/File.js"
import { Targets, type TargetStartError } from "./Target.js"
import { adapterFor } from "./Target/adapters.js"
import type { Transport } from "./Transport.js"
import { validate } from "./Validate.js"

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

/** The reporter's services for one configuration: the convertor, every target built by its adapter, and the policy over the daemon's tracks. */
export const servicesLayer = (
  config: ReporterConfig,
  options: { readonly dryRun: boolean }
): Layer.Layer<CycleServices | DryRun, TargetStartError, Transport | RateLimits.RateLimits | PolicyStore.PolicyStore> => {
  const context = { budget: phaseBudget(config.reporter.poll_interval), services: config.reporter.services }
  const targets = Layer.scoped(
    Targets,
    Effect.forEach(config.targets, (spec) => adapterFor(spec.type).make(spec, context))
  )
  const maintenance = Maintenance.layer.pipe(Layer.provide(Convertor.Default))
  const policy = Layer.unwrapEffect(
    Effect.map(Effect.all([Maintenance.Maintenance, Targets]), ([m, ports]) =>
      Policy.layer({
        policies: Policy.policiesOf(config.notify, config.targets),
        routes: Policy.routesOf(config.targets, config.reporter.services),
        services: config.reporter.services,
        inMaintenance: m.covers,
        shown: ports.flatMap((port) => (port.shown ?? []).map((s) => ({ ...s, target: port.name })))
      })
    )
  ).pipe(Layer.provide(maintenance))
  return Layer.mergeAll(Convertor.Default, Layer.provideMerge(policy, targets), maintenance, Layer.succeed(DryRun, options.dryRun)).pipe(
    Layer.provideMerge(Layer.succeed(AppConfig, config))
  )
}

/** What the policy's store keeps for a configuration: its services and targets, and where their state lives. */
export const managed = (config: ReporterConfig): Effect.Effect<PolicyStore.Managed, never, FileSystem.FileSystem | Path.Path> =>
  Effect.map(
    config.reporter.state_file === undefined ? Effect.succeed(undefined) : fileBackend(config.reporter.state_file),
    (backend) => ({ services: config.reporter.services, targets: config.targets, backend })
  )

type ManagedOf = typeof managed

/** With ha, the state lives in the cluster, whatever a reload says (ha takes a restart). */
const managedIn = (cluster: Ha.Cluster | undefined): ManagedOf =>
  cluster === undefined ? managed : (config) => Effect.succeed({ services: config.reporter.services, targets: config.targets, backend: cluster.backend })

/**
 * Saves the policy's tracks now (on a stop: the cycle that would have saved
 * them was cut short). A standby (ha) saves nothing: what it holds is older
 * than what the leader wrote.
 */
const persistNow = Effect.flatMap(Effect.zip(PolicyStore.PolicyStore, Leadership), ([store, leadership]) => (leadership.leading() ? store.persist : Effect.void))

/** The store for the first configuration, loaded from its backend. */
const storeLayer = (config: ReporterConfig, managedOf: ManagedOf = managed) => Layer.unwrapEffect(Effect.map(managedOf(config), PolicyStore.layer))

const describe = (config: ReporterConfig, options: RunOptions): string =>
  `cloudmon-metrics-reporter ${options.version} starting${options.dryRun ? " (dry run: nothing is sent)" : ""}: ` +
  `${config.reporter.services.length} service(s) every ${Duration.format(config.reporter.poll_interval)}, ` +
  `convertor ${safeUrl(config.convertor.url)}, ` +
  `${config.targets.length} target(s) (${config.targets.map((t) => `${t.name}: ${t.type}`).join(", ")}), ` +
  `concurrency ${config.reporter.concurrency}`

/**
 * One debug line per cycle about the process itself: what a soak run, or an
 * SRE wondering about a slow host, reads. The event-loop histogram is reset
 * each cycle, so its figures are per cycle. Without debug logging nothing is
 * measured: no histogram, and no timer sampling the event loop every 10 ms,
 * for a line nobody would see.
 */
const processStats: Effect.Effect<Effect.Effect<void>> = Effect.map(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) => {
  if (LogLevel.greaterThan(minimum, LogLevel.Debug)) return Effect.void
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
  const ms = (nanos: number) => (nanos / 1e6).toFixed(1)
  return Effect.suspend(() => {
    const memory = process.memoryUsage()
    const line =
      `Process stats: rss_mb=${mb(memory.rss)} heap_used_mb=${mb(memory.heapUsed)} ` +
      `event_loop_delay_p99_ms=${ms(loop.percentile(99))} event_loop_delay_max_ms=${ms(loop.max)}`
    loop.reset()
    return Effect.logDebug(line)
  })
})

const fatal = (message: string) => Effect.as(Logging.logErrorAlways(message), ExitCode.CycleFailed)

/** `--once`: one cycle; SIGHUP is only logged. */
const once = (config: ReporterConfig, options: RunOptions) =>
  Effect.gen(function* () {
    const hangups = yield* Effect.flatMap(Hangups.Hangups, (h) => h.subscribe)
    yield* hangups.pipe(
      Stream.runForEach(() => Effect.logWarning("SIGHUP received: a --once run does not reload; still running")),
      Effect.forkScoped
    )
    const services = yield* Effect.either(Layer.build(servicesLayer(config, options)))
    if (services._tag === "Left") return yield* fatal(services.left.message)
    const summary = yield* runCycle.pipe(
      Effect.onInterrupt(() =>
        Effect.all([
          Shutdown.markCutShort,
          // What was delivered before the stop is kept: the cycle that would have written it was cut short.
          persistNow,
          Effect.logError(
            `Stop requested during --once: the cycle was cut short (notifications in flight were given time to finish); exiting with ${Shutdown.signalExitCode()}`
          )
        ])
      ),
      Effect.provide(services.right)
    )
    // What was sent and not saved would be sent again by the next run: that run is not a success.
    const saved = yield* Effect.map(PolicyStore.PolicyStore, (store) => store.saving())
    if (!saved) yield* Logging.logErrorAlways("The state file could not be written (see above): exiting with 1")
    return summary.failed > 0 || summary.late > 0 || !saved ? ExitCode.CycleFailed : ExitCode.Ok
  }).pipe(Effect.provide(Layer.merge(RateLimits.layer, storeLayer(config))))

/**
 * The daemon: with ha, the API server and the Lease first (a problem there
 * is a configuration error); the metrics and health endpoint when asked
 * for; the elector; the configuration generations (the first, and live
 * reload on SIGHUP) over the daemon's policy store, and the loop.
 */
const daemon = (config: ReporterConfig, options: RunOptions) =>
  Effect.gen(function* () {
    const connected = config.ha === undefined ? undefined : yield* Effect.either(Ha.connect(config.ha, options.env))
    if (connected?._tag === "Left") return yield* Effect.as(Logging.logErrorAlways(connected.left.message), ExitCode.BadConfig)
    const cluster = connected?.right
    if (cluster !== undefined) yield* Effect.logInfo(cluster.describe)
    const managedOf = managedIn(cluster)
    return yield* Effect.gen(function* () {
      const listen = config.observability.listen
      const endpoint = listen === undefined ? undefined : yield* Effect.either(Observability.serve(listen, options.version))
      if (endpoint?._tag === "Left") return yield* fatal(endpoint.left.message)
      const observed = endpoint?.right
      if (observed !== undefined) yield* Effect.logInfo(`Metrics and health endpoint on ${observed.url} (/metrics, /healthz, /readyz)`)
      return yield* Effect.gen(function* () {
        const leadership = cluster === undefined ? undefined : yield* elect(cluster)
        if (leadership === undefined) yield* count((m) => m.leader(true))
        return yield* cycles(config, options, managedOf).pipe(Effect.provideService(Leadership, leadership ?? ALWAYS))
      }).pipe(Effect.provideService(Metrics, observed?.metrics ?? NONE))
    }).pipe(Effect.provide(Layer.mergeAll(Liveness.layer(config.reporter.poll_interval), RateLimits.layer, storeLayer(config, managedOf))))
  })

/**
 * The elector, running for the daemon's lifetime: on election the store
 * reads back what the last leader left; liveness and the metric follow the
 * role. Interrupted at the stop, after the loop has saved its state, it
 * releases the Lease.
 */
const elect = (cluster: Ha.Cluster) =>
  Effect.gen(function* () {
    const store = yield* PolicyStore.PolicyStore
    const liveness = yield* Liveness.Liveness
    yield* liveness.role("standby")
    yield* count((m) => m.leader(false))
    const elector = yield* cluster.elect({
      elected: store.reload,
      observed: liveness.observed,
      changed: (leading) => Effect.zipRight(liveness.role(leading ? "leader" : "standby"), count((m) => m.leader(leading)))
    })
    yield* Effect.forkScoped(elector.run)
    return elector
  })

/** The first generation, live reload, and the loop over whichever generation is in force. */
const cycles = (config: ReporterConfig, options: RunOptions, managedOf: ManagedOf) =>
  Effect.gen(function* () {
    const generations = Generations.layer<Transport | RateLimits.RateLimits | PolicyStore.PolicyStore | FileSystem.FileSystem | Path.Path>({
      file: options.configFile,
      env: options.env,
      first: config,
      build: (c) => Effect.flatMap(Effect.scope, (scope) => Layer.buildWithScope(servicesLayer(c, options), scope)),
      managed: managedOf
    })
    const built = yield* Effect.either(Layer.build(generations))
    if (built._tag === "Left") return yield* fatal(built.left.message)
    const stats = yield* processStats
    const collect = Memory.afterCycle(config.reporter.poll_interval)
    return yield* runForever(() => Effect.zipRight(stats, collect), Effect.flatMap(Generations.Generations, (g) => g.next)).pipe(
      Effect.provide(built.right),
      // What was delivered before the stop is written now, not only at the end of a whole cycle.
      Effect.onInterrupt(() => Effect.zipRight(persistNow, Effect.logInfo("Stop requested: finished notifications in flight, exiting")))
    )
  })

/**
 * What a target's policy needs to remember between runs to do its job: a
 * change from a repeat, a recovery, a streak, the time of a reminder. A
 * Stackmon v2 dashboard holds its own memory (its open incidents are read
 * back at start-up); a dashboard that takes every poll and no recovery needs none.
 */
const needsMemory = (config: ReporterConfig): ReadonlyArray<string> => {
  const policies = Policy.policiesOf(config.notify, config.targets)
  return config.targets.flatMap((t) => {
    const p = policies.get(t.name)!
    const remembersItself = t.type === "stackmon" && (t.settings as { api?: string }).api === "v2"
    const needs = [
      ...(p.mode === "on_change" ? ["notify.mode on_change (a change from a repeat)"] : []),
      ...(p.sendResolved && !remembersItself ? ["notify.send_resolved (a recovery)"] : []),
      ...(p.failureThreshold > 1 || p.successThreshold > 1 ? ["a notify threshold above 1 (a streak)"] : []),
      ...(Duration.toMillis(p.repeatInterval) > 0 ? ["notify.repeat_interval (when it last reminded)"] : [])
    ]
    return needs.length === 0
      ? []
      : [
          `${t.path} (${t.type}) needs to remember between runs for ${needs.join(", ")}, and a --once run without reporter.state_file forgets it: every run would notify again and no recovery would be sent; set reporter.state_file (a path that lasts between runs)` +
            (t.type === "statuspage"
              ? ""
              : `, or give this target notify: {mode: every_poll, send_resolved: false, failure_threshold: 1, success_threshold: 1} (then it hears every unhealthy run, and never of a recovery)`)
        ]
  })
}

/** The state file's directory must be one the reporter can write in (and the file, if there is one). */
const stateFileProblem = (file: string): Effect.Effect<string | undefined> =>
  Effect.promise(async () => {
    for (const [path, what] of [[dirname(file), "its directory"], [file, "the file"]] as const) {
      try {
        if (path !== file && !(await stat(path)).isDirectory()) return `reporter.state_file: ${path} is not a directory: point reporter.state_file into a directory the reporter can write in`
        await access(path, constants.W_OK)
      } catch (e) {
        const code = (e as { code?: string }).code
        if (code === "ENOENT" && path === file) continue
        return `reporter.state_file: ${what} ${path} cannot be written (${code === "ENOENT" ? "it does not exist" : code === "EACCES" || code === "EPERM" ? "permission denied" : (code ?? "error")}): make it writable by the reporter's user, or point reporter.state_file at a volume that is`
      }
    }
    return undefined
  })

/** What keeps ha from working here: a --once run (it would send beside the leader), or no way to the API server. */
const haProblems = (options: RunOptions): Effect.Effect<ReadonlyArray<string>> =>
  options.once && options.dryRun
    ? Effect.succeed([]) // a rehearsal sends nothing, and takes no part in the election
    : options.once
    ? Effect.succeed([
        "ha: a --once run takes no part in leader election, and would notify beside the leader: run --once with a configuration without the ha section (and its own reporter.state_file), or --once --dry-run"
      ])
    : Effect.match(Ha.reachable(options.env), { onFailure: (e) => [e.message], onSuccess: () => [] })

export const run = (
  options: RunOptions
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Transport> => {
  const program = Effect.gen(function* () {
    if (options.validate !== undefined) return yield* validate({ ...options, ...options.validate })
    const loaded = yield* Effect.either(load(options.configFile, options.env))
    if (loaded._tag === "Left") return yield* Effect.as(reportConfigError(loaded.left), ExitCode.BadConfig)
    const { config, warnings } = loaded.right
    const problems = [
      ...(config.reporter.state_file === undefined ? [] : [yield* stateFileProblem(config.reporter.state_file)].filter((p) => p !== undefined)),
      ...(options.once && !options.dryRun && config.reporter.state_file === undefined && config.ha === undefined ? needsMemory(config) : []),
      ...(config.ha === undefined ? [] : yield* haProblems(options))
    ]
    if (problems.length > 0) return yield* Effect.as(reportConfigError(new ConfigError({ file: options.configFile, problems, warnings })), ExitCode.BadConfig)
    for (const warning of warnings) yield* Effect.logWarning(warning)
    yield* Effect.logInfo(describe(config, options))

    return yield* options.once ? once(config, options) : daemon(config, options)
  }).pipe(
    Effect.provide(Hangups.layer),
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
