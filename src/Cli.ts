/**
 * The command line: flags, help, version, and how usage errors become exit 2.
 *
 * Parsed by hand rather than with @effect/cli: six flags do not need a
 * framework, and this way `--help` is plain text (no colour codes in a pipe,
 * no built-in wizard or completions), every usage error names the program
 * and says "see --help", and start-up loads less code (see README).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import pkg from "../package.json" with { type: "json" }
import type { Transport } from "./Transport.js"
import { type LogFormat, LEVEL_NAMES, parseLevel } from "./Logging.js"
import { ExitCode, run } from "./Program.js"

export const VERSION: string = pkg.version
export const NAME = "cloudmon-metrics-reporter"
export const DEFAULT_CONFIG = "config.yaml"

interface Flag {
  readonly name: string
  readonly short?: string
  /** Takes a value (`--config FILE`, `--config=FILE`); otherwise a switch. */
  readonly value?: string
  readonly help: string
}

const FLAGS: ReadonlyArray<Flag> = [
  { name: "config", short: "c", value: "FILE", help: `configuration file; conf.d/*.yaml beside it is merged in (default: ${DEFAULT_CONFIG})` },
  { name: "once", help: "run one cycle, then exit (cron, Kubernetes CronJob)" },
  { name: "dry-run", help: "read, decide and sign as usual, send nothing; log what would be sent" },
  { name: "connect", help: "validate: also ask the convertor and each target once, read-only" },
  { name: "log-level", value: "LEVEL", help: `${LEVEL_NAMES.join(", ")} (default: info, or LOG_LEVEL, or RUST_LOG)` },
  { name: "log-format", value: "FORMAT", help: "text or json (default: text)" },
  { name: "help", short: "h", help: "show this help and exit" },
  { name: "version", short: "V", help: "print the version and exit" }
]

const usageLine = `Usage: ${NAME} [--config FILE] [--once] [--dry-run] [--log-level LEVEL] [--log-format FORMAT]`

export const HELP = [
  `${NAME} ${VERSION}`,
  "Polls a CloudMon convertor for the health of each configured service and",
  "notifies the status dashboard about every service that is not healthy.",
  "",
  usageLine,
  `       ${NAME} validate [--config FILE] [--connect]`,
  `       ${NAME} --help | --version`,
  "",
  "Commands:",
  "  (none)    run: the daemon, or one cycle with --once; SIGHUP reloads the configuration",
  "  validate  print the effective configuration as YAML (secrets <redacted>) and its",
  "            warnings, contacting nothing; with --connect, check each peer once",
  "",
  "Options:",
  ...FLAGS.map((f) => {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.value ? ` ${f.value}` : ""}`
    return `  ${left.padEnd(26)}${f.help}`
  }),
  "",
  "Exit codes:",
  "  0         success; a daemon stopped by SIGTERM or SIGINT",
  "  1         --once: a service was not read in time or a notification not delivered;",
  "            validate --connect: a peer is unreachable or refused the credentials",
  "  2         configuration or command-line error",
  "  130, 143  --once cut short by SIGINT or SIGTERM",
  "",
  "Environment:",
  "  MP_<KEY>__<KEY>=value   override a configuration key (MP_STATUS_DASHBOARD__SECRET)",
  "  LOG_LEVEL, RUST_LOG     the log level when --log-level is not given",
  "",
  "Example:",
  `  ${NAME} --config /etc/${NAME}/config.yaml --once --log-format json`
].join("\n")

export interface Parsed {
  readonly command: "run" | "validate" | "help" | "version"
  readonly configFile: string
  readonly once: boolean
  readonly dryRun: boolean
  readonly connect: boolean
  readonly logLevel: Option.Option<LogLevel.LogLevel>
  readonly logFormat: LogFormat
}

/** `args` without the runtime and script. A usage error is a message for people. */
export const parse = (all: ReadonlyArray<string>): Either.Either<Parsed, string> => {
  const validating = all[0] === "validate"
  const args = validating ? all.slice(1) : all
  const seen = new Map<string, string | true>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--" || !arg.startsWith("-") || arg === "-") return Either.left(`unexpected argument ${JSON.stringify(arg)}`)
    const long = arg.startsWith("--")
    const [key, inline] = long && arg.includes("=") ? [arg.slice(2, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg.replace(/^--?/, ""), undefined]
    const flag = FLAGS.find((f) => (long ? f.name === key : f.short === key))
    if (flag === undefined) return Either.left(`unknown option ${JSON.stringify(long ? `--${key}` : arg)}`)
    const shown = `--${flag.name}`
    if (seen.has(flag.name)) return Either.left(`${shown} was given more than once`)
    if (flag.value === undefined) {
      if (inline !== undefined) return Either.left(`${shown} takes no value`)
      seen.set(flag.name, true)
      continue
    }
    const next = args[i + 1]
    const value = inline ?? (next !== undefined && !(next.startsWith("-") && next.length > 1) ? (i++, next) : undefined)
    if (value === undefined || value === "") return Either.left(`${shown} needs a value (${shown} ${flag.value})`)
    seen.set(flag.name, value)
  }
  const text = (name: string) => seen.get(name) as string | undefined
  const level = text("log-level")
  const logLevel = level === undefined ? Option.none() : parseLevel(level)
  if (level !== undefined && (Option.isNone(logLevel) || level.includes("=") || level.includes(","))) {
    return Either.left(`--log-level: expected one of ${LEVEL_NAMES.join(", ")}; got ${JSON.stringify(level)}`)
  }
  if (validating) {
    for (const runOnly of ["once", "dry-run"]) if (seen.has(runOnly)) return Either.left(`--${runOnly} does not go with validate`)
  } else if (seen.has("connect")) return Either.left("--connect only goes with validate (validate --connect)")
  const format = text("log-format") ?? "text"
  if (format !== "text" && format !== "json") return Either.left(`--log-format: expected text or json; got ${JSON.stringify(format)}`)
  return Either.right({
    command: seen.has("help") ? "help" : seen.has("version") ? "version" : validating ? "validate" : "run",
    configFile: text("config") ?? DEFAULT_CONFIG,
    once: seen.has("once"),
    dryRun: seen.has("dry-run"),
    connect: seen.has("connect"),
    logLevel,
    logFormat: format
  })
}

/** `argv` as process.argv: runtime, script, then the arguments. Resolves to the exit code. */
export const cli = (
  argv: ReadonlyArray<string>,
  env: Record<string, string | undefined>
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Transport> =>
  Either.match(parse(argv.slice(2)), {
    onLeft: (problem) => Console.error(`${NAME}: ${problem}; see --help`).pipe(Effect.as(ExitCode.BadConfig as number)),
    onRight: (parsed) =>
      parsed.command === "help"
        ? Console.log(HELP).pipe(Effect.as(ExitCode.Ok as number))
        : parsed.command === "version"
          ? Console.log(VERSION).pipe(Effect.as(ExitCode.Ok as number))
          : run({ ...parsed, env, version: VERSION, ...(parsed.command === "validate" ? { validate: { connect: parsed.connect } } : {}) })
  })
