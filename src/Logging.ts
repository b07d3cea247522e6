/**
 * Log lines for people (`text`) or for log pipelines (`json`), one per line,
 * on standard error. Levels come from --log-level, else LOG_LEVEL, else
 * RUST_LOG (the upstream reporter's variable), else info.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"

export type LogFormat = "text" | "json"

/** An error the user must see whatever the level, even `off`: why the program exits, or refuses what was asked. */
export const logErrorAlways = (message: string): Effect.Effect<void> => Effect.logError(message).pipe(Logger.withMinimumLogLevel(LogLevel.Error))

const LEVELS: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  off: LogLevel.None,
  none: LogLevel.None
}

/** The levels documented for --log-level and LOG_LEVEL (the others are accepted as aliases). */
export const LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "off"] as const

/**
 * `debug`, or RUST_LOG directives such as `warn,cloudmon_metrics_reporter=debug`:
 * a directive for this program (target starting with "cloudmon") wins, then a
 * bare level, then the first directive naming a level.
 */
export const parseLevel = (raw: string | undefined): Option.Option<LogLevel.LogLevel> => {
  if (raw === undefined) return Option.none()
  const parts = raw.toLowerCase().split(",").map((p) => p.trim()).filter((p) => p !== "")
  const directives = parts.map((p) => (p.includes("=") ? { target: p.slice(0, p.indexOf("=")), level: p.slice(p.indexOf("=") + 1) } : { target: "", level: p }))
  const known = directives.filter((d) => LEVELS[d.level] !== undefined)
  const chosen =
    known.find((d) => d.target.startsWith("cloudmon")) ?? known.find((d) => d.target === "") ?? known[0]
  return chosen === undefined ? Option.none() : Option.some(LEVELS[chosen.level]!)
}

export const levelFromEnv = (env: Record<string, string | undefined>): LogLevel.LogLevel =>
  parseLevel(env["LOG_LEVEL"]).pipe(
    Option.orElse(() => parseLevel(env["RUST_LOG"])),
    Option.getOrElse(() => LogLevel.Info)
  )

/**
 * A line that reads as text, and in JSON is a short message with its
 * figures as fields (`{"message":"Cycle complete","polled":3,...}`), so a
 * log pipeline can graph them without parsing text.
 */
export class Fielded {
  constructor(
    readonly text: string,
    readonly message: string,
    readonly fields: Readonly<Record<string, unknown>>
  ) {}
}

const fieldedOf = (message: unknown): Fielded | undefined =>
  message instanceof Fielded ? message : Array.isArray(message) && message.length === 1 && message[0] instanceof Fielded ? message[0] : undefined

const messageText = (message: unknown): string => {
  const fielded = fieldedOf(message)
  if (fielded !== undefined) return fielded.text
  if (typeof message === "string") return message
  if (Array.isArray(message) && message.length === 1 && typeof message[0] === "string") return message[0]
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
}

/**
 * Control characters made visible: a service name or a peer's answer holding
 * `\n` cannot forge a log line, nor ESC/OSC sequences reach a terminal.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }
export const visible = (text: string): string =>
  text.replace(CONTROLS, (c) => NAMED[c] ?? (c.charCodeAt(0) > 0xff ? `\\u${c.charCodeAt(0).toString(16)}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`))

const quote = (value: string): string => {
  const shown = visible(value)
  return shown === "" || /[\s"=]/.test(shown) ? `"${shown.replace(/"/g, '\\"')}"` : shown
}

const FIRST = ["service", "environment"]
const rank = (key: string): number => (FIRST.includes(key) ? FIRST.indexOf(key) : FIRST.length)

export const format = (
  kind: LogFormat,
  entry: { date: Date; logLevel: LogLevel.LogLevel; message: unknown; annotations: HashMap.HashMap<string, unknown>; cause: Cause.Cause<unknown> }
): string => {
  const fields: Record<string, string> = {}
  // service and environment first: they are what a reader scans for.
  // (Keys are ASCII names: a plain comparison orders them as localeCompare would, at a fraction of its cost.)
  const pairs = [...entry.annotations].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  for (const [key, value] of pairs) fields[key] = typeof value === "string" ? value : JSON.stringify(value)
  // Expected failures are values with their own messages; a cause here is a defect. One line, no stack.
  const cause = Cause.isEmpty(entry.cause) ? undefined : Cause.pretty(entry.cause).split("\n")[0]
  if (cause !== undefined) fields["cause"] = cause
  const level = entry.logLevel.label
  if (kind === "json") {
    const fielded = fieldedOf(entry.message)
    return fielded === undefined
      ? JSON.stringify({ time: entry.date.toISOString(), level: level.toLowerCase(), message: messageText(entry.message), ...fields })
      : JSON.stringify({ time: entry.date.toISOString(), level: level.toLowerCase(), message: fielded.message, ...fielded.fields, ...fields })
  }
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${quote(v)}`).join("")
  // One space after the level, as the upstream reporter's documented output (`INFO Polling convertor…`).
  return `${entry.date.toISOString()} ${level} ${visible(messageText(entry.message))}${extra}`
}

export const makeLogger = (kind: LogFormat, write: (line: string) => void) =>
  Logger.make((entry) => write(format(kind, entry)))

/**
 * A log write that cannot stop the program: when standard error goes away
 * (a restarted log shipper, `| head -1`: EPIPE, EAGAIN, a closed descriptor),
 * the line is dropped and polling and notifying go on. Lines written within
 * one turn of the event loop go out in one write (at 1000 services a cycle
 * logs over a thousand lines; one blocking write each was measurable), and
 * whatever is pending is written before the process exits.
 */
export const stderrWriter = (stream: NodeJS.WritableStream = process.stderr): ((line: string) => void) & { readonly flush: () => void } => {
  let broken = false
  let pending: Array<string> = []
  // An asynchronous write error arrives as an 'error' event; unheard, it would end the process.
  stream.on("error", () => {
    broken = true
  })
  const flush = () => {
    if (pending.length === 0) return
    const text = pending.join("")
    pending = []
    if (broken) return
    try {
      stream.write(text)
    } catch {
      // These lines are lost; the next ones may get through (EAGAIN).
    }
  }
  process.once("exit", flush)
  const write = (line: string) => {
    if (broken) return
    if (pending.length === 0) setImmediate(flush)
    pending.push(`${line}\n`)
  }
  return Object.assign(write, { flush })
}

export const layer = (kind: LogFormat): Layer.Layer<never> => {
  const write = stderrWriter()
  return Logger.replace(Logger.defaultLogger, makeLogger(kind, write))
}
