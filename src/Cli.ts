/**
 * The command line: flags, help, version, and how usage errors become exit 2.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import pkg from "../package.json" with { type: "json" }
import type { Transport } from "./Http.js"
import { parseLevel } from "./Logging.js"
import { ExitCode, run } from "./Program.js"

export const VERSION: string = pkg.version

class Exit extends Data.TaggedError("Exit")<{ readonly code: number }> {}

const config = Options.text("config").pipe(
  Options.withAlias("c"),
  Options.withDescription("The configuration file (YAML); conf.d/*.yaml beside it is merged in."),
  Options.withDefault("config.yaml")
)
const once = Options.boolean("once").pipe(Options.withDescription("Run one cycle, then exit (for cron or a Kubernetes CronJob)."))
const dryRun = Options.boolean("dry-run").pipe(
  Options.withDescription("Do everything but send: log what would be sent to the dashboard.")
)
const logFormat = Options.choice("log-format", ["text", "json"]).pipe(
  Options.withDescription("Log line format."),
  Options.withDefault("text" as const)
)

/**
 * @effect/cli's own --log-level is only recognised before every other flag;
 * users put it anywhere, so it is taken out here and handed to the program.
 */
export const takeLogLevel = (
  argv: ReadonlyArray<string>
): Either.Either<{ readonly argv: ReadonlyArray<string>; readonly level: Option.Option<LogLevel.LogLevel> }, string> => {
  const rest: Array<string> = []
  let level: Option.Option<LogLevel.LogLevel> = Option.none()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (i < 2 || (arg !== "--log-level" && !arg.startsWith("--log-level="))) {
      rest.push(arg)
      continue
    }
    const value = arg === "--log-level" ? argv[++i] : arg.slice("--log-level=".length)
    const parsed = value === undefined || value.includes("=") ? Option.none() : parseLevel(value)
    if (Option.isNone(parsed)) {
      return Either.left(`--log-level: expected one of trace, debug, info, warn, error, off; got ${value === undefined ? "nothing" : JSON.stringify(value)}`)
    }
    level = parsed
  }
  return Either.right({ argv: rest, level })
}

/** `argv` as process.argv: runtime, script, then the arguments. Resolves to the exit code. */
export const cli = (
  rawArgv: ReadonlyArray<string>,
  env: Record<string, string | undefined>
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Terminal.Terminal | Transport> => {
  const split = takeLogLevel(rawArgv)
  if (Either.isLeft(split)) return Console.error(split.left).pipe(Effect.as(ExitCode.BadConfig as number))
  const { argv, level } = split.right
  const command = Command.make("cloudmon-metrics-reporter", { config, once, dryRun, logFormat }, (opts) =>
    run({
      configFile: opts.config,
      once: opts.once,
      dryRun: opts.dryRun,
      logFormat: opts.logFormat,
      logLevel: level,
      env,
      version: VERSION
    }).pipe(Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new Exit({ code })))))
  )
  const runCommand = Command.run(command, { name: "cloudmon-metrics-reporter", version: VERSION })
  return runCommand(argv).pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchIf(
      (e): e is Exit => e instanceof Exit,
      (e) => Effect.succeed(e.code)
    ),
    // @effect/cli has already printed what was wrong with the command line.
    Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(ExitCode.BadConfig as number)),
    Effect.catchAll(() => Effect.succeed(ExitCode.BadConfig as number))
  )
}
