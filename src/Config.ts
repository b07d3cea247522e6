/**
 * The configuration: read (Config/Sources.ts) → merge → decode once with the
 * schema (Config/Schema.ts) → resolve the secret and check across keys
 * (Config/Checks.ts) → `ReporterConfig`, or every problem with its path.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { phaseBudget } from "./Budget.js"
import type { TargetSpec } from "./Target/registry.js"
import { crossProblems, formatIssues, resolveTargets, warningsFor } from "./Config/Checks.js"
import { unknownKeys } from "./Config/Keys.js"
import { ConfigFile, SECTIONS } from "./Config/Schema.js"
import { namer, readLayers } from "./Config/Sources.js"
import { logErrorAlways } from "./Logging.js"

export { DEFAULT_CONCURRENCY } from "./Config/Schema.js"

/** The decoded file, and every target with its secrets read from wherever they were given. */
export type ReporterConfig = ConfigFile & {
  /** The configuration file it came from. */
  readonly source: string
  /** `status_dashboard` first, then each of `notifiers`. */
  readonly targets: ReadonlyArray<TargetSpec>
}

export class AppConfig extends Context.Tag("reporter/AppConfig")<AppConfig, ReporterConfig>() {}

/** Fails the start-up: exit code 2. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly file: string
  readonly problems: ReadonlyArray<string>
  /** Found before the errors; shown with them (a mistyped key is often the cause). */
  readonly warnings: ReadonlyArray<string>
}> {
  /** One line per problem: log lines stay one event each. */
  get lines(): ReadonlyArray<string> {
    return this.problems.map((p) => `Configuration error in ${this.file}: ${p}`)
  }
  override get message(): string {
    return this.lines.join("; ")
  }
}

/**
 * Says why a configuration does not load: the warnings first (a mistyped key
 * is often why a required one is missing), then one line per problem, each
 * after `prefix`, whatever the log level.
 */
export const reportConfigError = (error: ConfigError, prefix = ""): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.forEach(error.warnings, (warning) => Effect.logWarning(warning), { discard: true }),
    Effect.forEach(error.lines, (line) => logErrorAlways(`${prefix}${line}`), { discard: true })
  )

/** Whether the file (or the environment) set `<path>.timeout` itself: `convertor`, `status_dashboard`, `notifiers[2]`. */
const timeoutSet = (merged: Record<string, unknown>, path: string): boolean => {
  const m = /^notifiers\[(\d+)\]$/.exec(path)
  const section = m === null ? merged[path] : (merged["notifiers"] as ReadonlyArray<unknown> | undefined)?.[Number(m[1])]
  return typeof section === "object" && section !== null && (section as Record<string, unknown>)["timeout"] !== undefined
}

/**
 * A timeout nobody set derives from the interval: the default (10 s), or the
 * phase budget when that is shorter, so a short `poll_interval` needs no
 * timeouts set by hand and warns about none; one that was set is kept (and
 * warned about when it is too long).
 */
const withDerivedTimeouts = (c: ConfigFile, merged: Record<string, unknown>): ConfigFile => {
  const budget = phaseBudget(c.reporter.poll_interval)
  const derive = <T extends object>(section: T, path: string): T => {
    const timeout = (section as { readonly timeout?: Duration.Duration }).timeout
    return timeoutSet(merged, path) || timeout === undefined ? section : { ...section, timeout: Duration.min(timeout, budget) }
  }
  return {
    ...c,
    convertor: derive(c.convertor, "convertor"),
    status_dashboard: derive(c.status_dashboard, "status_dashboard"),
    notifiers: c.notifiers.map((n, i) => derive(n, `notifiers[${i}]`))
  }
}

export interface LoadResult {
  readonly config: ReporterConfig
  readonly warnings: ReadonlyArray<string>
}

const decode = Schema.decodeUnknownEither(ConfigFile, { errors: "all", onExcessProperty: "ignore" })

/**
 * Fails with ConfigError for anything that stops the program from starting;
 * returns warnings for what it can run with.
 */
export const load = (
  file: string,
  env: Record<string, string | undefined>
): Effect.Effect<LoadResult, ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const fail = (warnings: ReadonlyArray<string>, problems: ReadonlyArray<string>) =>
      Effect.fail(new ConfigError({ file, problems, warnings }))

    const merged = yield* readLayers(file, env).pipe(Effect.catchAll((problem) => fail([], [problem])))
    // A key the program does not know is an error, never ignored: `notifier:` for `notifiers:`
    // would otherwise run without paging. Said first: a mistyped key is often why a required one is missing.
    const unknown = unknownKeys(merged)
    for (const section of SECTIONS) if (merged[section] === null) merged[section] = {}

    const decoded = decode(merged)
    if (Either.isLeft(decoded)) return yield* fail([], [...unknown, ...formatIssues(decoded.left, namer(env))])
    const c = withDerivedTimeouts(decoded.right, merged)
    const targets = yield* resolveTargets(c, (name) => path.resolve(path.dirname(file), name))
    const problems = [...unknown, ...crossProblems(c), ...Either.match(targets, { onLeft: (p) => p, onRight: () => [] })]
    if (Either.isLeft(targets) || problems.length > 0) return yield* fail([], problems)
    const warnings: ReadonlyArray<string> = []
    // Paths in the configuration are relative to the file, as secret files are.
    const state_file = c.reporter.state_file === undefined ? {} : { state_file: path.resolve(path.dirname(file), c.reporter.state_file) }
    return {
      config: { ...c, reporter: { ...c.reporter, ...state_file }, source: file, targets: targets.right },
      warnings: [...warnings, ...warningsFor(c, targets.right, (key) => timeoutSet(merged, key))]
    }
  })
