/**
 * The command line, on @effect/cli: the options, their descriptions and
 * defaults, the two commands (`run`, the default, and `validate`), the help
 * and how usage errors become exit 2.
 *
 * What is adapted, and why:
 * - The library's built-in options (`--wizard`, `--completions`, its own
 *   `--log-level` with other level names) cannot be switched off by CliConfig
 *   and would take `--log-level debug` from ours: arguments are parsed with
 *   `CommandDescriptor.parse` behind a hidden first flag, which ends the
 *   built-ins' scan at once, and `--help`/`--version` are ours.
 * - The parser hands back what it could not place (an unknown option, a
 *   value missing, a flag twice, a stray word) as leftovers rather than
 *   errors: `problemWith` names each as a person would.
 * - Help is the library's help for the commands, laid out one line per
 *   option and always as plain text (no colour codes in a pipe, with NO_COLOR,
 *   or anywhere else), with our exit codes, environment and example after it.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Terminal from "@effect/platform/Terminal"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import pkg from "../package.json" with { type: "json" }
import { type LogFormat, LEVEL_NAMES, parseLevel } from "./Logging.js"
import { ExitCode, run } from "./Program.js"
import type { Transport } from "./Transport.js"

export const VERSION: string = pkg.version
export const NAME = "cloudmon-metrics-reporter"
export const DEFAULT_CONFIG = "config.yaml"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const config = Options.text("config").pipe(
  Options.withAlias("c"),
  Options.withPseudoName("FILE"),
  Options.withDescription(`configuration file; conf.d/*.yaml beside it is merged in (default: ${DEFAULT_CONFIG})`),
  Options.withDefault(DEFAULT_CONFIG)
)
const once = Options.boolean("once").pipe(Options.withDescription("run one cycle, then exit (cron, Kubernetes CronJob)"))
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("read, decide and sign as usual, send nothing; log what would be sent"))
const connect = Options.boolean("connect").pipe(Options.withDescription("validate: also ask the convertor and each target once, read-only"))
// Levels as LOG_LEVEL and RUST_LOG read them (Logging.ts), not the library's own list.
const logLevel = Options.text("log-level").pipe(
  Options.withPseudoName("LEVEL"),
  Options.withDescription(`${LEVEL_NAMES.join(", ")} (default: info, or LOG_LEVEL, or RUST_LOG)`),
  Options.mapEffect((raw) => {
    const level = parseLevel(raw)
    return Option.isNone(level) || raw.includes("=") || raw.includes(",")
      ? Effect.fail(invalid(`--log-level: expected one of ${LEVEL_NAMES.join(", ")}; got ${JSON.stringify(raw)}`))
      : Effect.succeed(level.value)
  }),
  Options.optional
)
const logFormat = Options.text("log-format").pipe(
  Options.withPseudoName("FORMAT"),
  Options.withDescription("text or json (default: text)"),
  Options.mapEffect((raw) =>
    raw === "text" || raw === "json" ? Effect.succeed<LogFormat>(raw) : Effect.fail(invalid(`--log-format: expected text or json; got ${JSON.stringify(raw)}`))
  ),
  Options.withDefault<LogFormat>("text")
)

const runCommand = Command.make(NAME, { config, once, dryRun, logLevel, logFormat }).pipe(
  Command.withDescription("Polls a CloudMon convertor for the health of each configured service and notifies the status dashboard and the notifiers (PagerDuty, Slack, webhooks, Statuspage) about every service that is not healthy.")
)
const validateCommand = Command.make("validate", { config, connect, logLevel, logFormat }).pipe(
  Command.withDescription("print the effective configuration as YAML (secrets <redacted>) and its warnings, contacting nothing; with --connect, check each peer once")
)

/** Ends the built-in options' scan at once: see the top of this file. */
const SHIELD = "internal-no-built-ins"
const shield = Options.boolean(SHIELD)
const parsers = {
  run: Command.make(NAME, { config, once, dryRun, logLevel, logFormat, shield }).descriptor,
  validate: Command.make("validate", { config, connect, logLevel, logFormat, shield }).descriptor
}
const CLI_CONFIG = CliConfig.make({ isCaseSensitive: true, autoCorrectLimit: 0, showBuiltIns: false, showTypes: false })

// ---- help ----

const textOf = (span: Span.Span): string =>
  span._tag === "Sequence" ? textOf(span.left) + textOf(span.right) : "value" in span && typeof span.value === "string" ? span.value : "value" in span ? textOf(span.value as Span.Span) : ""

const blocksOf = (doc: HelpDoc.HelpDoc): ReadonlyArray<HelpDoc.HelpDoc> => (doc._tag === "Sequence" ? [...blocksOf(doc.left), ...blocksOf(doc.right)] : [doc])

/** The library's own words about an option's type, which our descriptions already say. */
const BOILERPLATE = /^(A true or false value\.|A user-defined piece of text\.|This setting is optional\.|This option is optional\.)$/

/** Each option of `command`'s help as `-c, --config FILE`, `description`. */
const optionLines = <Name extends string, A>(command: Command.Command<Name, never, never, A>): ReadonlyArray<readonly [string, string]> =>
  blocksOf(Command.getHelp(command, CLI_CONFIG)).flatMap((block) =>
    block._tag !== "DescriptionList"
      ? []
      : block.definitions.map(([term, body]) => {
          const said = blocksOf(body).flatMap((b) => (b._tag === "Paragraph" ? [textOf(b.value)] : [])).filter((t) => !BOILERPLATE.test(t))
          const name = textOf(term).replace(/^\((.*)\)$/, "$1")
          return [name.startsWith("-") && !name.startsWith("--") ? name : `    ${name}`, said.join(" ")] as const
        })
  )

const usageLine = `Usage: ${NAME} [--config FILE] [--once] [--dry-run] [--log-level LEVEL] [--log-format FORMAT]`

/** The help, as plain text: built when asked for, not at every start. */
export const help = (): string => {
  const options = [...optionLines(runCommand), ...optionLines(validateCommand).filter(([name]) => name.includes("--connect"))]
  const description = blocksOf(Command.getHelp(runCommand, CLI_CONFIG)).flatMap((b) => (b._tag === "Paragraph" ? [textOf(b.value)] : []))[0] ?? ""
  const validateSays = blocksOf(Command.getHelp(validateCommand, CLI_CONFIG)).flatMap((b) => (b._tag === "Paragraph" ? [textOf(b.value)] : []))[0] ?? ""
  const wrap = (text: string, width: number, indent: string) =>
    text.split(" ").reduce<Array<string>>((lines, word) => {
      const last = lines[lines.length - 1]
      if (last !== undefined && `${last} ${word}`.length <= width) lines[lines.length - 1] = `${last} ${word}`
      else lines.push(word)
      return lines
    }, []).map((line, i) => (i === 0 ? line : `${indent}${line}`))
  return [
    `${NAME} ${VERSION}`,
    ...wrap(description, 76, ""),
    "",
    usageLine,
    `       ${NAME} validate [--config FILE] [--connect]`,
    `       ${NAME} --help | --version`,
    "",
    "Commands:",
    "  (none)    run: the daemon, or one cycle with --once; SIGHUP reloads the configuration",
    `  validate  ${wrap(validateSays, 66, "            ").join("\n")}`,
    "",
    "Options:",
    ...options.map(([name, said]) => `  ${name.padEnd(26)}${said}`),
    `  ${"-h, --help".padEnd(26)}show this help and exit`,
    `  ${"-V, --version".padEnd(26)}print the version and exit`,
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
}

// ---- parsing ----

export interface Parsed {
  readonly command: "run" | "validate" | "help" | "version"
  readonly configFile: string
  readonly once: boolean
  readonly dryRun: boolean
  readonly connect: boolean
  readonly logLevel: Option.Option<LogLevel.LogLevel>
  readonly logFormat: LogFormat
}

/** Each option as it may be written, with its long name and what its value is called (none: a switch). */
const FLAGS: ReadonlyMap<string, { readonly name: string; readonly value?: string }> = new Map([
  ["--config", { name: "--config", value: "FILE" }],
  ["-c", { name: "--config", value: "FILE" }],
  ["--log-level", { name: "--log-level", value: "LEVEL" }],
  ["--log-format", { name: "--log-format", value: "FORMAT" }],
  ["--once", { name: "--once" }],
  ["--dry-run", { name: "--dry-run" }],
  ["--connect", { name: "--connect" }],
  ["--help", { name: "--help" }],
  ["-h", { name: "--help" }],
  ["--version", { name: "--version" }],
  ["-V", { name: "--version" }]
])

/** What is wrong with `args` that the parser leaves for us to say (see the top of this file), if anything. */
const problemWith = (args: ReadonlyArray<string>, validating: boolean): string | undefined => {
  const seen = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--" || !arg.startsWith("-") || arg === "-") return `unexpected argument ${JSON.stringify(arg)}`
    const [key, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
    const flag = FLAGS.get(key)
    if (flag === undefined) return `unknown option ${JSON.stringify(key)}`
    if (seen.has(flag.name)) return `${flag.name} was given more than once`
    seen.add(flag.name)
    if (flag.value === undefined) {
      if (inline !== undefined) return `${flag.name} takes no value`
      continue
    }
    // A value that is the next option (`--config --once`) is a value left out.
    const next = args[i + 1]
    const value = inline ?? (next !== undefined && !(next.startsWith("-") && next.length > 1) ? (i++, next) : undefined)
    if (value === undefined || value === "") return `${flag.name} needs a value (${flag.name} ${flag.value})`
  }
  if (validating) {
    for (const runOnly of ["--once", "--dry-run"]) if (seen.has(runOnly)) return `${runOnly} does not go with validate`
  } else if (seen.has("--connect")) return "--connect only goes with validate (validate --connect)"
  return undefined
}

/** The parser's needs include a terminal for prompts; no option of ours prompts. */
const NO_TERMINAL = Terminal.Terminal.of({
  columns: Effect.succeed(80),
  rows: Effect.succeed(24),
  isTTY: Effect.succeed(false),
  readInput: Effect.die("the command line does not prompt"),
  readLine: Effect.die("the command line does not prompt"),
  display: () => Effect.void
})

/** `args` without the runtime and script. A usage error is a message for people. */
export const parse = (all: ReadonlyArray<string>): Effect.Effect<Either.Either<Parsed, string>, never, FileSystem.FileSystem | Path.Path> => {
  const validating = all[0] === "validate"
  const args = validating ? all.slice(1) : all
  const problem = problemWith(args, validating)
  if (problem !== undefined) return Effect.succeed(Either.left(problem))
  const asked = (...names: ReadonlyArray<string>) => args.some((a) => names.includes(a))
  const defaults = { configFile: DEFAULT_CONFIG, once: false, dryRun: false, connect: false, logLevel: Option.none(), logFormat: "text" } as const
  if (asked("--help", "-h")) return Effect.succeed(Either.right({ ...defaults, command: "help" }))
  if (asked("--version", "-V")) return Effect.succeed(Either.right({ ...defaults, command: "version" }))
  const descriptor = (validating ? parsers.validate : parsers.run) as CommandDescriptor.Command<Record<string, unknown>>
  return CommandDescriptor.parse(descriptor, [validating ? "validate" : NAME, `--${SHIELD}`, ...args], CLI_CONFIG).pipe(
    Effect.map((directive): Either.Either<Parsed, string> => {
      if (directive._tag === "BuiltIn" || directive.leftover.length > 0) return Either.left(`unexpected argument ${JSON.stringify(directive._tag === "BuiltIn" ? args[0] : directive.leftover[0])}`)
      const v = directive.value as { config: string; once?: boolean; dryRun?: boolean; connect?: boolean; logLevel: Option.Option<LogLevel.LogLevel>; logFormat: LogFormat }
      return Either.right({
        command: validating ? "validate" : "run",
        configFile: v.config,
        once: v.once ?? false,
        dryRun: v.dryRun ?? false,
        connect: v.connect ?? false,
        logLevel: v.logLevel,
        logFormat: v.logFormat
      })
    }),
    Effect.catchAll((e) => Effect.succeed(Either.left(HelpDocText(e.error)))),
    Effect.provideService(Terminal.Terminal, NO_TERMINAL)
  )
}

/** A validation error's words, on one line. */
const HelpDocText = (doc: HelpDoc.HelpDoc): string =>
  blocksOf(doc).flatMap((b) => (b._tag === "Paragraph" ? [textOf(b.value)] : b._tag === "Header" ? [textOf(b.value)] : [])).join(" ").trim() || "invalid arguments"

/** `argv` as process.argv: runtime, script, then the arguments. Resolves to the exit code. */
export const cli = (
  argv: ReadonlyArray<string>,
  env: Record<string, string | undefined>
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Transport> =>
  Effect.flatMap(parse(argv.slice(2)), (parsed) =>
    Either.match(parsed, {
      onLeft: (problem) => Console.error(`${NAME}: ${problem}; see --help`).pipe(Effect.as(ExitCode.BadConfig as number)),
      onRight: (p) =>
        p.command === "help"
          ? Console.log(help()).pipe(Effect.as(ExitCode.Ok as number))
          : p.command === "version"
            ? Console.log(VERSION).pipe(Effect.as(ExitCode.Ok as number))
            : run({ ...p, env, version: VERSION, ...(p.command === "validate" ? { validate: { connect: p.connect } } : {}) })
    })
  )
