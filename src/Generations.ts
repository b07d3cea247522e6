/**
 * The configurations in force, one generation each: a configuration and
 * what was built for it (convertor client, targets, policy), in a scope of
 * its own. SIGHUP (Hangups.ts) re-reads and re-validates the configuration
 * (file, `conf.d`, environment) and builds its targets: valid, it is
 * published as pending, and one line says what changed; invalid (or a
 * target that cannot start), the daemon goes on with what it has, and says
 * exactly why.
 *
 * A pending generation is taken up only between cycles (`next`), so no
 * cycle, and no notification in flight, ever sees two configurations. Then
 * the displaced generation's scope is closed, the policy's store keeps the
 * tracks that still apply (PolicyStore.ts `retain`), and liveness and the
 * metrics learn the new interval and targets.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { load, reportConfigError, type ReporterConfig } from "./Config.js"
import { changes } from "./Config/Effective.js"
import { Hangups } from "./Hangups.js"
import { Liveness } from "./Liveness.js"
import { logErrorAlways } from "./Logging.js"
import { Metrics } from "./Metrics.js"
import { type Managed, PolicyStore } from "./PolicyStore.js"
import type { CycleServices } from "./Reporter.js"
import type { TargetStartError } from "./Target.js"

/** One configuration and what was built for it, in a scope of its own. */
interface Generation {
  readonly config: ReporterConfig
  readonly context: Context.Context<CycleServices>
  readonly scope: Scope.CloseableScope
}

interface InForce {
  readonly running: Generation
  /** Valid and built, waiting for the cycle in progress to end. */
  readonly pending: Generation | undefined
}

export class Generations extends Context.Tag("reporter/Generations")<
  Generations,
  {
    /** The services for the next cycle: the newest valid configuration's. */
    readonly next: Effect.Effect<Context.Context<CycleServices>>
  }
>() {}

export interface GenerationsOptions<R> {
  /** Where the configuration is read from on SIGHUP. */
  readonly file: string
  readonly env: Record<string, string | undefined>
  readonly first: ReporterConfig
  /** Builds a configuration's services into the scope it is run in. */
  readonly build: (config: ReporterConfig) => Effect.Effect<Context.Context<CycleServices>, TargetStartError, Scope.Scope | R>
  /** What the policy's store keeps for a configuration. */
  readonly managed: (config: ReporterConfig) => Effect.Effect<Managed, never, R>
}

const refused = (line: string) => logErrorAlways(`Reload refused: ${line}`)

/** The first generation, built now (its failure is the layer's), and reloading for the layer's lifetime. */
export const layer = <R>(
  options: GenerationsOptions<R>
): Layer.Layer<Generations, TargetStartError, Hangups | Liveness | PolicyStore | FileSystem.FileSystem | Path.Path | R> =>
  Layer.scoped(
    Generations,
    Effect.gen(function* () {
      const parent = yield* Effect.scope
      const hangups = yield* Hangups
      const liveness = yield* Liveness
      const store = yield* PolicyStore
      const metrics = yield* Metrics
      /** Builds `config` in a new scope under the daemon's; closes that scope again when it fails. */
      const generation = (config: ReporterConfig) =>
        Effect.gen(function* () {
          const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
          const built = yield* Effect.either(Scope.extend(options.build(config), scope))
          if (built._tag === "Left") return yield* Effect.zipRight(Scope.close(scope, Exit.void), Effect.fail(built.left))
          return { config, context: built.right, scope } satisfies Generation
        })
      const inForce = yield* SynchronizedRef.make<InForce>({ running: yield* generation(options.first), pending: undefined })
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(SynchronizedRef.get(inForce), ({ running, pending }) =>
          Effect.zipRight(pending === undefined ? Effect.void : Scope.close(pending.scope, Exit.void), Scope.close(running.scope, Exit.void))
        )
      )
      const takenUp = (config: ReporterConfig) =>
        Effect.sync(() => metrics.targets(config.targets.map((t) => t.name))).pipe(Effect.zipRight(liveness.configured(config.reporter.poll_interval)))
      yield* takenUp(options.first)

      const reload = Effect.gen(function* () {
        yield* Effect.logInfo(`SIGHUP received: reloading the configuration from ${options.file}`)
        const loaded = yield* Effect.either(load(options.file, options.env))
        if (loaded._tag === "Left") {
          yield* reportConfigError(loaded.left, "Reload refused: ")
          return yield* refused(`still running on the configuration in use (${loaded.left.problems.length} problem(s) above)`)
        }
        const { config, warnings } = loaded.right
        for (const warning of warnings) yield* Effect.logWarning(warning)
        const built = yield* Effect.either(generation(config))
        if (built._tag === "Left") return yield* refused(`${built.left.message}; still running on the configuration in use`)
        // Published first, then the generation it displaces (never used) is closed.
        const what = yield* SynchronizedRef.modifyEffect(inForce, (s) =>
          Effect.as(s.pending === undefined ? Effect.void : Scope.close(s.pending.scope, Exit.void), [
            // The endpoint stays where the daemon started it: a reload is compared with that address.
            changes({ ...(s.pending ?? s.running).config, observability: options.first.observability }, config),
            { ...s, pending: built.right }
          ] as const)
        )
        yield* Effect.logInfo(`Configuration reloaded; the next cycle uses it: ${what.length === 0 ? "nothing changed" : what.join("; ")}`)
      })
      // A bug of ours in one reload must not end reloading for good.
      const guarded = Effect.catchAllCause(reload, (cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause) // the daemon is stopping: not a bug
          : refused(`internal error (please report it): ${Cause.pretty(cause).split("\n")[0]}; still running on the configuration in use`)
      )
      // Subscribed once the first generation is up: one that came while it was being built is `early`.
      yield* (yield* hangups.subscribe).pipe(
        Stream.runForEach((hangup) => Effect.zipRight(hangup === "early" ? Effect.logInfo("SIGHUP received during start-up: reloading now") : Effect.void, guarded)),
        Effect.forkScoped
      )

      const next = SynchronizedRef.modifyEffect(inForce, (s) => {
        const taken = s.pending
        if (taken === undefined) return Effect.succeed([s.running.context, s] as const)
        return Effect.gen(function* () {
          yield* Scope.close(s.running.scope, Exit.void)
          yield* store.retain(yield* options.managed(taken.config))
          yield* takenUp(taken.config)
          return [taken.context, { running: taken, pending: undefined }] as const
        })
      }).pipe(Effect.uninterruptible, Effect.provide(yield* Effect.context<R>()))
      return { next }
    })
  )
