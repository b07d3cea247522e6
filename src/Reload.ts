/**
 * Live reload: SIGHUP re-reads and re-validates the configuration (file,
 * `conf.d`, environment) and builds its targets. Valid: the next cycle runs
 * on it, and one line says what changed. Invalid (or a target that cannot
 * start): the daemon goes on with what it has, and says exactly why.
 *
 * A new configuration is taken up only between cycles, so no cycle, and no
 * notification in flight, ever sees two. The notification policy's tracks
 * are carried over for every (target, service) pair still configured with
 * the same target; the others are forgotten.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Context from "effect/Context"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { load, reportConfigError, type ReporterConfig } from "./Config.js"
import { logErrorAlways } from "./Logging.js"
import { changes, sameTarget } from "./Config/Effective.js"
import { serviceId } from "./Domain.js"
import { pruneTracks, type Track } from "./Policy.js"
import type { CycleServices } from "./Reporter.js"
import { hangupsSoFar } from "./Shutdown.js"

/** One configuration and what was built for it, in a scope of its own. */
export interface Generation {
  readonly config: ReporterConfig
  readonly context: Context.Context<CycleServices>
  readonly scope: Scope.CloseableScope
}

export interface ReloadOptions<E, R> {
  readonly file: string
  readonly env: Record<string, string | undefined>
  readonly first: Generation
  /** The tracks every generation's policy shares. */
  readonly tracks: Map<string, Track>
  /** Builds a configuration's services into the scope it is run in; a failure has a message for people. */
  readonly build: (config: ReporterConfig) => Effect.Effect<Context.Context<CycleServices>, E, Scope.Scope | R>
  readonly describe: (error: E) => string
  /** After a new generation is taken up, before its first cycle. */
  readonly applied: (config: ReporterConfig) => Effect.Effect<void>
}

const refused = (line: string) => logErrorAlways(`Reload refused: ${line}`)

/**
 * Watches SIGHUP for the caller's scope. Returns the services for the next
 * cycle: the newest valid configuration's.
 */
export const reloading = <E, R>(
  options: ReloadOptions<E, R>
): Effect.Effect<Effect.Effect<Context.Context<CycleServices>>, never, Scope.Scope | FileSystem.FileSystem | Path.Path | R> =>
  Effect.gen(function* () {
    let running = options.first
    let pending: Generation | undefined
    const parent = yield* Effect.scope
    yield* Effect.addFinalizer(() => Effect.zipRight(pending === undefined ? Effect.void : Scope.close(pending.scope, Exit.void), Scope.close(running.scope, Exit.void)))

    const reload = Effect.gen(function* () {
      yield* Effect.logInfo(`SIGHUP received: reloading the configuration from ${options.file}`)
      const loaded = yield* Effect.either(load(options.file, options.env))
      if (loaded._tag === "Left") {
        yield* reportConfigError(loaded.left, "Reload refused: ")
        return yield* refused(`still running on the configuration in use (${loaded.left.problems.length} problem(s) above)`)
      }
      const { config, warnings } = loaded.right
      for (const warning of warnings) yield* Effect.logWarning(warning)
      const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
      const built = yield* Effect.either(Scope.extend(options.build(config), scope))
      if (built._tag === "Left") {
        yield* Scope.close(scope, Exit.void)
        return yield* refused(`${options.describe(built.left)}; still running on the configuration in use`)
      }
      const what = changes((pending ?? running).config, config)
      // Published first, then the generation it displaces (never used) is closed.
      const displaced = pending
      pending = { config, context: built.right, scope }
      if (displaced !== undefined) yield* Scope.close(displaced.scope, Exit.void)
      yield* Effect.logInfo(`Configuration reloaded; the next cycle uses it: ${what.length === 0 ? "nothing changed" : what.join("; ")}`)
    })

    const hangups = yield* Queue.sliding<void>(1)
    const onHangup = () => void Queue.unsafeOffer(hangups, undefined)
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("SIGHUP", onHangup)),
      () => Effect.sync(() => process.off("SIGHUP", onHangup))
    )
    // A SIGHUP that came while the daemon was starting is acted on now, not lost.
    if (hangupsSoFar() > 0) {
      yield* Effect.logInfo("SIGHUP received during start-up: reloading now")
      onHangup()
    }
    // A bug of ours in one reload must not end reloading for good.
    const guarded = Effect.catchAllCause(reload, (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause) // the daemon is stopping: not a bug
        : refused(`internal error (please report it): ${Cause.pretty(cause).split("\n")[0]}; still running on the configuration in use`)
    )
    yield* Queue.take(hangups).pipe(Effect.zipRight(guarded), Effect.forever, Effect.forkScoped)

    return Effect.uninterruptible(Effect.gen(function* () {
      if (pending === undefined) return running.context
      const next = pending
      pending = undefined
      const previous = running
      running = next
      const services = new Set(next.config.reporter.services.map(serviceId))
      pruneTracks(options.tracks, (name, service) => {
        const was = previous.config.targets.find((t) => t.name === name)
        const is = next.config.targets.find((t) => t.name === name)
        return was !== undefined && is !== undefined && sameTarget(was, is) && services.has(serviceId(service))
      })
      yield* Scope.close(previous.scope, Exit.void)
      yield* options.applied(next.config)
      return next.context
    }))
  })
