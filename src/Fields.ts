/**
 * The building blocks of the configuration's schema: numbers with bounds,
 * seconds as Durations, base URLs, secrets that are never echoed, and the
 * messages they give. Config/Schema.ts and each target type's keys
 * (Target/registry.ts) are made of these.
 */
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { hideUserinfo } from "./Domain.js"

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
export const expected = (what: string, echo = true) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    message: echo ? `expected ${what}, got ${show(issue.actual)}` : `expected ${what}`,
    override: true
  })
})

/** For sections: only when the value itself is not a mapping; nested problems keep their own messages. */
export const mapping = { message: (issue: ParseResult.ParseIssue) => ({ message: `expected a mapping of keys, got ${show(issue.actual)}`, override: false }) }
export const list = { message: (issue: ParseResult.ParseIssue) => ({ message: `expected a list, got ${show(issue.actual)}`, override: false }) }

/** YAML numbers arrive as numbers, environment overrides as strings: accept both. */
export const NumberLike = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
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
export const bounded = (what: string, min: number, max: number, integer = false) =>
  NumberLike.pipe(
    Schema.filter((n) => Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n)))
  ).annotations(expected(`${what} from ${min} to ${max}`))

/** Seconds in the file, a Duration in the program. */
export const seconds = (what: string, min: number, max: number, integer = false) =>
  Schema.transform(bounded(what, min, max, integer), Schema.DurationFromSelf, {
    strict: true,
    decode: (n) => Duration.seconds(n),
    encode: (d) => Duration.toSeconds(d)
  })

export const DAY = 86_400
export const PollInterval = seconds("a positive number of seconds", 1, DAY)
export const Timeout = seconds("a positive number of seconds", 0.1, 600)
export const WindowSeconds = seconds("a number of seconds", 0, 7 * DAY)
export const Concurrency = bounded("a whole number", 1, 1024, true)

export const NonEmptyString = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0)).annotations(
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
export const BaseUrl = Schema.transform(
  Schema.String.annotations(expected("an http:// or https:// URL")).pipe(Schema.filter((s) => urlProblem(s) ?? true)),
  Schema.String,
  { strict: true, decode: (s) => s.replace(/\/+$/, ""), encode: (s) => s }
)

/** Never echoes its value, not even in a type error. */
export const Secret = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.length > 0)).annotations(expected("a non-empty string", false))
).annotations(expected("a non-empty string", false))

export const ServiceRef = Schema.Struct({
  name: NonEmptyString,
  environment: NonEmptyString
}).annotations({ message: (issue) => ({ message: `expected {name, environment}, got ${show(issue.actual)}`, override: false }) })

/** A key that may be left out, with its default written as the file would write it, decoded once by the schema itself. */
export const orElse = <A, I>(schema: Schema.Schema<A, I>, encoded: I) => {
  const value = Schema.decodeUnknownSync(schema)(encoded)
  return Schema.optionalWith(schema, { exact: true, default: () => value })
}

/** An optional key. */
export const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

/** A mapping of names to values of `value` (component ids, attributes). */
export const Mapping = <A, I>(value: Schema.Schema<A, I>) =>
  Schema.Record({ key: Schema.String, value }).annotations(mapping)

/** An HTTP header's name is a token (RFC 9110 §5.6.2), which a name with a space or a colon is not. */
const isToken = (name: string) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)

/** A header value may not break the request: no line break or NUL (RFC 9110 §5.5). Never echoed. */
export const headerValueProblem = (value: string): string | undefined =>
  /[\r\n\0]/.test(value) ? "expected a header value on one line (no CR, LF or NUL; not shown: it is a secret)" : undefined

export const HeaderValue = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.length > 0 && headerValueProblem(s) === undefined)).annotations(expected("a non-empty header value on one line (no CR, LF or NUL)", false))
).annotations(expected("a non-empty header value on one line (no CR, LF or NUL)", false))

/** HTTP headers by name: each name a token, each value as `value` says. (A record drops keys its key schema refuses, so names are checked here.) */
export const Headers = <A, I>(value: Schema.Schema<A, I>) =>
  Schema.Record({ key: Schema.String, value })
    .annotations(mapping)
    .pipe(
      Schema.filter((headers) => {
        const bad = Object.keys(headers).find((name) => !isToken(name))
        return bad === undefined || { path: [bad], message: "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colons)" }
      })
    )

/** An ISO 8601 time with a zone (`2026-12-01T02:00:00Z`), as Unix milliseconds. */
export const IsoInstant = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) => {
    const millis = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s) ? Date.parse(s) : Number.NaN
    return Number.isNaN(millis) ? ParseResult.fail(new ParseResult.Type(ast, s)) : ParseResult.succeed(millis)
  },
  encode: (millis) => ParseResult.succeed(new Date(millis).toISOString())
}).annotations(expected("an ISO 8601 time with a zone (2026-12-01T02:00:00Z)"))

/** How a target is told (Policy.ts); every key optional, so that a target's own `notify:` overrides key by key. */
export const NotifySection = Schema.Struct({
  mode: optional(Schema.Literal("every_poll", "on_change").annotations(expected('"every_poll" or "on_change"'))),
  repeat_interval: optional(seconds("a number of seconds (0: never)", 0, 30 * DAY)),
  send_resolved: optional(Schema.Boolean.annotations(expected("true or false"))),
  failure_threshold: optional(bounded("a whole number", 1, 100, true)),
  success_threshold: optional(bounded("a whole number", 1, 100, true))
}).annotations(mapping)
export type NotifySection = typeof NotifySection.Type

/** `host:port` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`) or `:port` for every interface; port 0 takes a free one. */
export const ListenAddress = Schema.transformOrFail(Schema.String, Schema.Struct({ host: Schema.String, port: Schema.Number }), {
  strict: true,
  decode: (s, _, ast) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(s)
    const port = m === null ? Number.NaN : Number(m[2])
    return m === null || port > 65535
      ? ParseResult.fail(new ParseResult.Type(ast, s))
      : ParseResult.succeed({ host: m[1]!.replace(/^\[|\]$/g, ""), port })
  },
  encode: ({ host, port }) => ParseResult.succeed(`${host.includes(":") ? `[${host}]` : host}:${port}`)
}).annotations(expected('"host:port" (127.0.0.1:9464), or ":port" for every interface'))

/** A list of names, each exact or with `*` wildcards (`api-*`). */
const Names = Schema.Array(NonEmptyString).annotations({ message: (issue) => ({ message: `expected a list of names (\`*\` matches anything), got ${show(issue.actual)}`, override: false }) })

/**
 * Which services a target is for: `{environments: [...], services: [...]}`,
 * each list optional. A service is selected when it matches every list
 * given (`match:`), and held back when it matches every list given (`exclude:`).
 */
export const Selector = Schema.Struct({ environments: optional(Names), services: optional(Names) }).annotations(mapping)
export type Selector = typeof Selector.Type

const glob = (pattern: string): RegExp => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)

/** Whether `service` matches every list `selector` gives (an empty selector matches everything). */
export const selects = (selector: Selector): ((service: { readonly name: string; readonly environment: string }) => boolean) => {
  const environments = selector.environments?.map(glob)
  const services = selector.services?.map(glob)
  return (s) => (environments === undefined || environments.some((r) => r.test(s.environment))) && (services === undefined || services.some((r) => r.test(s.name)))
}

/**
 * A target's routing as one predicate (`match:` minus `exclude:`), or
 * undefined when it has neither: every service is for it.
 */
export const routeOf = (settings: { readonly match?: Selector; readonly exclude?: Selector }): ((service: { readonly name: string; readonly environment: string }) => boolean) | undefined => {
  const { match, exclude } = settings
  if (match === undefined && exclude === undefined) return undefined
  const matching = match === undefined ? () => true : selects(match)
  const excluding = exclude === undefined ? () => false : selects(exclude)
  return (s) => matching(s) && !excluding(s)
}
