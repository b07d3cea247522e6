/**
 * The configuration file's format, and what it decodes to: the one place a
 * key, its default, its bounds and its message are written. The program
 * uses the decoded type as it is (seconds become Durations, URLs lose their
 * trailing slash); the list of known keys is derived from this schema.
 */
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { DASHBOARD_TYPES } from "../Dashboard/adapters.js"
import { hideUserinfo } from "../Domain.js"

/**
 * Services polled at once within a cycle. Each request is mostly waiting on the
 * network, so this bounds sockets and memory more than CPU; see README.
 */
export const DEFAULT_CONCURRENCY = 32

/** A value as a message may show it: never a URL's userinfo, never too long. */
export const show = (u: unknown): string => {
  if (u === undefined) return "nothing"
  if (u === null) return "null"
  if (typeof u === "string") {
    const safe = hideUserinfo(u)
    return JSON.stringify(safe.length > 60 ? `${safe.slice(0, 57)}...` : safe)
  }
  if (Array.isArray(u)) return "a list"
  if (typeof u === "object") return "a mapping"
  return String(u)
}

/** A message that replaces Schema's own, for type and refinement failures alike. */
const expected = (what: string, echo = true) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    message: echo ? `expected ${what}, got ${show(issue.actual)}` : `expected ${what}`,
    override: true
  })
})

/** For sections: only when the value itself is not a mapping; nested problems keep their own messages. */
const mapping = { message: (issue: ParseResult.ParseIssue) => ({ message: `expected a mapping of keys, got ${show(issue.actual)}`, override: false }) }
const list = { message: (issue: ParseResult.ParseIssue) => ({ message: `expected a list, got ${show(issue.actual)}`, override: false }) }

/** YAML numbers arrive as numbers, environment overrides as strings: accept both. */
const NumberLike = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    if (typeof input === "number") return ParseResult.succeed(input)
    const n = input.trim() === "" ? Number.NaN : Number(input)
    return Number.isFinite(n) ? ParseResult.succeed(n) : ParseResult.fail(new ParseResult.Type(ast, input))
  },
  encode: ParseResult.succeed
})

/**
 * Every number has bounds: 0.001 s floods the convertor, 1e13 s breaks every
 * date computed from it, and 1e308 is not "forever".
 */
const bounded = (what: string, min: number, max: number, integer = false) =>
  NumberLike.pipe(
    Schema.filter((n) => Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n)))
  ).annotations(expected(`${what} from ${min} to ${max}`))

/** Seconds in the file, a Duration in the program. */
const seconds = (what: string, min: number, max: number) =>
  Schema.transform(bounded(what, min, max), Schema.DurationFromSelf, {
    strict: true,
    decode: (n) => Duration.seconds(n),
    encode: (d) => Duration.toSeconds(d)
  })

const DAY = 86_400
const PollInterval = seconds("a positive number of seconds", 1, DAY)
const Timeout = seconds("a positive number of seconds", 0.1, 600)
const WindowSeconds = seconds("a number of seconds", 0, 7 * DAY)
const Concurrency = bounded("a whole number", 1, 1024, true)

const NonEmptyString = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0)).annotations(
  expected("a non-empty string")
)

/** What is wrong with a base URL, if anything: paths are appended to it, so it can carry no query or fragment. */
const urlProblem = (s: string): string | undefined => {
  const plain = `expected an http:// or https:// URL, got ${show(s)}`
  if (s.trim() !== s) return `expected a URL without spaces around it, got ${show(s)}`
  let url: URL
  try {
    url = new URL(s)
  } catch {
    return plain
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return plain
  if (s.includes("?") || s.includes("#")) {
    return `expected a base URL without a query (?...) or fragment (#...): paths are added to it; got ${show(s)}`
  }
  return undefined
}

/** A base URL, without its trailing slash (paths are added with one). */
const BaseUrl = Schema.transform(
  Schema.String.annotations(expected("an http:// or https:// URL")).pipe(Schema.filter((s) => urlProblem(s) ?? true)),
  Schema.String,
  { strict: true, decode: (s) => s.replace(/\/+$/, ""), encode: (s) => s }
)

/** Never echoes its value, not even in a type error. */
const Secret = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.length > 0)).annotations(expected("a non-empty string", false))
).annotations(expected("a non-empty string", false))

const ServiceRef = Schema.Struct({
  name: NonEmptyString,
  environment: NonEmptyString
}).annotations({ message: (issue) => ({ message: `expected {name, environment}, got ${show(issue.actual)}`, override: false }) })

const types = DASHBOARD_TYPES.map((t) => JSON.stringify(t)).join(" or ")

/** A key that may be left out, with its default. */
const orElse = <A, I>(schema: Schema.Schema<A, I>, encoded: I) => {
  // Written as the file would write it, decoded once by the schema itself: one default, one set of bounds.
  const value = Schema.decodeUnknownSync(schema)(encoded)
  return Schema.optionalWith(schema, { exact: true, default: () => value })
}

const WindowSection = Schema.Struct({
  from: orElse(WindowSeconds, 300),
  to: orElse(WindowSeconds, 120)
}).annotations(mapping)

const ReporterSection = Schema.Struct({
  poll_interval: orElse(PollInterval, 60),
  concurrency: orElse(Concurrency, DEFAULT_CONCURRENCY),
  window: orElse(WindowSection, {}),
  services: orElse(Schema.Array(ServiceRef).annotations(list), [])
}).annotations(mapping)

/** The file format, as written by users (after merging), and the program's configuration once decoded. */
export const ConfigFile = Schema.Struct({
  convertor: Schema.Struct({
    url: BaseUrl,
    timeout: orElse(Timeout, 10)
  }).annotations(mapping),
  status_dashboard: Schema.Struct({
    type: orElse(Schema.Literal(...DASHBOARD_TYPES).annotations(expected(types)), DASHBOARD_TYPES[0]),
    url: BaseUrl,
    secret: Schema.optionalWith(Secret, { exact: true }),
    secret_file: Schema.optionalWith(NonEmptyString, { exact: true }),
    timeout: orElse(Timeout, 10)
  }).annotations(mapping),
  reporter: orElse(ReporterSection, {})
})
export type ConfigFile = typeof ConfigFile.Type

/** The top-level sections: an empty one (`convertor:` alone) is read as `{}`, so its missing keys get named. */
export const SECTIONS = Object.keys(ConfigFile.fields)
