/**
 * Configuration: one YAML file, `conf.d/*.yaml` beside it (name order, deep
 * merge), then `MP_*` environment variables (`__` nests). The merged tree is
 * decoded once with Schema; every problem is reported with its path.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"
import { PHASE_SHARE } from "./Retry.js"

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

/**
 * Services polled at once within a cycle. Each request is mostly waiting on the
 * network, so this bounds sockets and memory more than CPU; see README.
 */
export const DEFAULT_CONCURRENCY = 32

/** `http://user:pa/ss@host` -> `http://***@host`: everything up to the last `@` after the scheme. */
export const hideUserinfo = (text: string): string => text.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)[^@]*@/i, "$1***@")

const show = (u: unknown): string => {
  if (u === undefined) return "nothing"
  if (u === null) return "null"
  if (typeof u === "string") {
    // A URL's user:password never goes into a message, whatever characters the password holds.
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

const DAY = 86_400
export const BOUNDS = {
  pollInterval: bounded("a positive number of seconds", 1, DAY),
  timeout: bounded("a positive number of seconds", 0.1, 600),
  window: bounded("a number of seconds", 0, 7 * DAY),
  concurrency: bounded("a whole number", 1, 1024, true)
} as const

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

const HttpUrl = Schema.String.annotations(expected("an http:// or https:// URL")).pipe(
  Schema.filter((s) => urlProblem(s) ?? true)
)

/** Never echoes its value, not even in a type error. */
const Secret = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.length > 0)).annotations(expected("a non-empty string", false))
).annotations(expected("a non-empty string", false))

export const ServiceRef = Schema.Struct({
  name: NonEmptyString,
  environment: NonEmptyString
}).annotations({ message: (issue) => ({ message: `expected {name, environment}, got ${show(issue.actual)}`, override: false }) })
export type ServiceRef = typeof ServiceRef.Type

export const DashboardType = Schema.Literal("generic").annotations(expected('"generic"'))

const ConvertorSection = Schema.Struct({
  url: HttpUrl,
  timeout: Schema.optionalWith(BOUNDS.timeout, { exact: true, default: () => 10 })
}).annotations(mapping)

const DashboardSection = Schema.Struct({
  type: Schema.optionalWith(DashboardType, { exact: true, default: () => "generic" as const }),
  url: HttpUrl,
  secret: Schema.optionalWith(Secret, { exact: true }),
  secret_file: Schema.optionalWith(NonEmptyString, { exact: true }),
  timeout: Schema.optionalWith(BOUNDS.timeout, { exact: true, default: () => 10 })
}).annotations(mapping)

const WindowSection = Schema.Struct({
  from: Schema.optionalWith(BOUNDS.window, { exact: true, default: () => 300 }),
  to: Schema.optionalWith(BOUNDS.window, { exact: true, default: () => 120 })
}).annotations(mapping)

const ReporterSection = Schema.Struct({
  poll_interval: Schema.optionalWith(BOUNDS.pollInterval, { exact: true, default: () => 60 }),
  concurrency: Schema.optionalWith(BOUNDS.concurrency, { exact: true, default: () => DEFAULT_CONCURRENCY }),
  window: Schema.optionalWith(WindowSection, { exact: true, default: () => ({ from: 300, to: 120 }) }),
  services: Schema.optionalWith(Schema.Array(ServiceRef).annotations(list), { exact: true, default: () => [] })
}).annotations(mapping)

/** The file format, as written by users (after merging). */
export const ConfigFile = Schema.Struct({
  convertor: ConvertorSection,
  status_dashboard: DashboardSection,
  reporter: Schema.optionalWith(ReporterSection, {
    exact: true,
    default: () => ({
      poll_interval: 60,
      concurrency: DEFAULT_CONCURRENCY,
      window: { from: 300, to: 120 },
      services: []
    })
  })
})
export type ConfigFile = typeof ConfigFile.Type

/** Every key the program knows, for the unknown-key warnings. */
const KNOWN_KEYS: Record<string, ReadonlyArray<string>> = {
  "": ["convertor", "status_dashboard", "reporter"],
  convertor: ["url", "timeout"],
  status_dashboard: ["type", "url", "secret", "secret_file", "timeout"],
  reporter: ["poll_interval", "concurrency", "window", "services"],
  "reporter.window": ["from", "to"],
  "reporter.services[]": ["name", "environment"]
}

// ---------------------------------------------------------------------------
// The decoded configuration, as the program uses it
// ---------------------------------------------------------------------------

export interface ReporterConfig {
  readonly source: string
  readonly convertor: { readonly url: string; readonly timeout: Duration.Duration }
  readonly dashboard: {
    readonly type: "generic"
    readonly url: string
    readonly secret: Redacted.Redacted<string>
    readonly timeout: Duration.Duration
  }
  readonly pollInterval: Duration.Duration
  readonly concurrency: number
  readonly window: { readonly from: Duration.Duration; readonly to: Duration.Duration }
  readonly services: ReadonlyArray<ServiceRef>
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

// ---------------------------------------------------------------------------
// Reading and merging
// ---------------------------------------------------------------------------

type Tree = Record<string, unknown>

const isTree = (u: unknown): u is Tree => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * One configuration layer over the ones before it. `secret` and `secret_file`
 * are two ways to say one thing: a layer that sets either replaces both.
 */
const overlay = (base: Tree, over: Tree): Tree => {
  const dashboard = over["status_dashboard"]
  const prior = base["status_dashboard"]
  if (isTree(dashboard) && isTree(prior) && ("secret" in dashboard || "secret_file" in dashboard)) {
    const { secret: _secret, secret_file: _file, ...rest } = prior
    return deepMerge({ ...base, status_dashboard: rest }, over)
  }
  return deepMerge(base, over)
}

/** Later wins; mappings merge key by key, anything else (lists included) is replaced. */
export const deepMerge = (base: Tree, over: Tree): Tree => {
  const out: Tree = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key]
    out[key] = isTree(prev) && isTree(value) ? deepMerge(prev, value) : value
  }
  return out
}

const ENV_PREFIX = "MP_"

/** Each `MP_` variable with the key path it sets, in the order they apply. */
const envPaths = (env: Record<string, string | undefined>): ReadonlyArray<readonly [string, ReadonlyArray<string>]> =>
  Object.keys(env)
    .sort()
    .filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined)
    .map((name) => [name, name.slice(ENV_PREFIX.length).toLowerCase().split("__")] as const)
    .filter(([, path]) => path.every((p) => p !== ""))

/**
 * A problem's path as the user set it: a value that came from an `MP_`
 * variable is named by the variable (`MP_REPORTER__POLL_INTERVAL`), with
 * what follows inside it (`MP_REPORTER__SERVICES[0].name`).
 */
export const namer = (env: Record<string, string | undefined>) => {
  const sources = envPaths(env).map(([name, path]) => [name, path.join(".")] as const)
  return (where: string): string => {
    for (const [name, key] of sources) {
      if (where === key || where.startsWith(`${key}.`) || where.startsWith(`${key}[`)) return `${name}${where.slice(key.length)}`
    }
    return where
  }
}

/**
 * `MP_STATUS_DASHBOARD__SECRET=x` -> `{status_dashboard: {secret: "x"}}`.
 * Values stay strings (numbers are parsed by the schema), except a value that
 * starts with `[` or `{`, read as YAML so lists such as services can be set too.
 */
export const envOverrides = (env: Record<string, string | undefined>): Tree => {
  let tree: Tree = {}
  for (const [name, path] of envPaths(env)) {
    const raw = env[name]!
    const trimmed = raw.trim()
    let value: unknown = raw
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      try {
        value = YAML.parse(trimmed)
      } catch {
        value = raw
      }
    }
    const leaf: Tree = path.reduceRight<Tree>((acc, key, i) => (i === path.length - 1 ? { [key]: value } : { [key]: acc }), {})
    tree = deepMerge(tree, leaf)
  }
  return tree
}

const levenshtein = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

const didYouMean = (key: string, known: ReadonlyArray<string>): string => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = levenshtein(key.toLowerCase(), candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : ""
}

/** Keys the program does not know: a typo here would otherwise be silently ignored. */
export const unknownKeys = (tree: unknown): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (node: unknown, schemaPath: string, shownPath: string) => {
    const known = KNOWN_KEYS[schemaPath]
    if (known === undefined) return
    if (schemaPath.endsWith("[]")) {
      if (!Array.isArray(node)) return
      node.forEach((item, i) => walkMapping(item, schemaPath, `${shownPath}[${i}]`, known))
      return
    }
    walkMapping(node, schemaPath, shownPath, known)
  }
  const walkMapping = (node: unknown, schemaPath: string, shownPath: string, known: ReadonlyArray<string>) => {
    if (!isTree(node)) return
    for (const key of Object.keys(node)) {
      const childShown = shownPath === "" ? key : `${shownPath}.${key}`
      if (!known.includes(key)) {
        found.push(`unknown key ${childShown}${didYouMean(key, known)}: it is ignored`)
        continue
      }
      const childSchema = schemaPath === "" ? key : `${schemaPath.replace(/\[\]$/, "")}.${key}`
      if (KNOWN_KEYS[childSchema] !== undefined) walk(node[key], childSchema, childShown)
      else if (KNOWN_KEYS[`${childSchema}[]`] !== undefined) walk(node[key], `${childSchema}[]`, childShown)
    }
  }
  walk(tree, "", "")
  return found
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`), "")

/** Schema issues as `reporter.poll_interval: expected a positive number of seconds, got "often"`. */
export const formatIssues = (error: ParseResult.ParseError, name: (where: string) => string = (w) => w): ReadonlyArray<string> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const where = name(formatPath(issue.path))
    const what =
      issue._tag === "Missing"
        ? "is required but missing"
        : /^Expected (Struct|\{)/.test(issue.message)
          ? "expected a mapping of keys"
          : issue.message
    // Belt and braces: whatever a schema message says, a secret's value never follows it.
    const safe = /secret/i.test(where) ? what.replace(/,? (got|actual) [\s\S]*$/, "") : what
    return where === "" ? safe : `${where}: ${safe}`
  })

const parseYaml = (text: string): Either.Either<unknown, string> => {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  const [first] = doc.errors
  if (first !== undefined) {
    const pos = first.linePos?.[0]
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : ""
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
    return Either.left(`invalid YAML${where}: ${reason}`)
  }
  try {
    // yaml refuses to expand an alias bomb (a few lines that would become gigabytes).
    return Either.right(doc.toJS({ maxAliasCount: 100 }) as unknown)
  } catch {
    return Either.left("invalid YAML: its aliases expand too far (an alias bomb?); write the values out")
  }
}

/** Reads are bounded: a configuration is small, and /dev/zero is not a file. */
export const MAX_CONFIG_BYTES = 1024 * 1024
export const MAX_SECRET_BYTES = 64 * 1024

export interface LoadResult {
  readonly config: ReporterConfig
  readonly warnings: ReadonlyArray<string>
}

const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)

/** Userinfo and query removed: what may appear in a log line. */
export const safeUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    url.username = ""
    url.password = ""
    url.search = ""
    return url.toString().replace(/\/$/, "")
  } catch {
    return "<invalid url>"
  }
}

/**
 * A regular file's text, at most `maxBytes`: a FIFO, a device (/dev/zero) or a
 * file past the cap is refused with what to do, never read into memory.
 */
export const readBounded = (name: string, maxBytes: number) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(name)
    if (info.type !== "File") return yield* Effect.fail("NotRegular" as const)
    if (Number(info.size) > maxBytes) return yield* Effect.fail("TooLarge" as const)
    const bytes = yield* Effect.scoped(
      Effect.flatMap(fs.open(name, { flag: "r" }), (file) => file.readAlloc(FileSystem.Size(maxBytes + 1)))
    )
    const data = Option.getOrElse(bytes, () => new Uint8Array(0))
    if (data.length > maxBytes) return yield* Effect.fail("TooLarge" as const)
    return new TextDecoder().decode(data)
  }).pipe(
    Effect.mapError((e) =>
      typeof e === "string" ? e : e._tag === "SystemError" ? e.reason : ("Unknown" as const)
    )
  )

const readProblem = (it: string, reason: string, maxBytes: number): string =>
  reason === "NotFound"
    ? `${it} does not exist`
    : reason === "PermissionDenied"
      ? `${it} cannot be read: permission denied (check its owner and mode)`
      : reason === "NotRegular"
        ? `${it} is not a regular file`
        : reason === "TooLarge"
          ? `${it} is larger than ${maxBytes / 1024} KiB`
          : `${it} cannot be read (is it a regular file?)`

/** One trailing newline (as `echo` and editors leave) is not part of a secret, wherever it came from. */
const trimSecret = (value: string): string => value.replace(/\r?\n$/, "")

/**
 * Reads, merges and decodes. Fails with ConfigError for anything that stops
 * the program from starting; returns warnings for what it can run with.
 */
export const load = (
  file: string,
  env: Record<string, string | undefined>
): Effect.Effect<LoadResult, ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const warnings: Array<string> = []
    const fail = (...problems: ReadonlyArray<string>) => Effect.fail(new ConfigError({ file, problems, warnings }))

    const readYaml = (name: string, what: "main" | "fragment") =>
      Effect.gen(function* () {
        const label = what === "main" ? "" : `${name}: `
        const text = yield* readBounded(name, MAX_CONFIG_BYTES).pipe(
          Effect.catchAll((reason) => {
            const problem = readProblem(what === "main" ? "the file" : name, reason, MAX_CONFIG_BYTES)
            return fail(what === "main" && reason === "NotFound" ? `${problem} (pass the right path with --config FILE)` : problem)
          })
        )
        const tree = parseYaml(text)
        if (Either.isLeft(tree)) return yield* fail(`${label}${tree.left}`)
        if (tree.right !== null && !isTree(tree.right)) {
          return yield* fail(`${label}expected a YAML mapping at the top level, got ${show(tree.right)}`)
        }
        return (tree.right as Tree | null) ?? {}
      })

    let merged = yield* readYaml(file, "main")
    const confDir = path.join(path.dirname(file), "conf.d")
    const hasConfDir = yield* fs.stat(confDir).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    if (hasConfDir) {
      const entries = yield* fs.readDirectory(confDir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      for (const name of entries.filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort()) {
        merged = overlay(merged, yield* readYaml(path.join(confDir, name), "fragment"))
      }
    }
    merged = overlay(merged, envOverrides(env))

    warnings.push(...unknownKeys(merged))
    // `convertor:` with nothing under it is an empty section, so its missing keys get named.
    for (const section of ["convertor", "status_dashboard", "reporter"]) if (merged[section] === null) merged[section] = {}

    const decoded = Schema.decodeUnknownEither(ConfigFile, { errors: "all", onExcessProperty: "ignore" })(merged)
    if (Either.isLeft(decoded)) return yield* fail(...formatIssues(decoded.left, namer(env)))
    const c = decoded.right

    const problems: Array<string> = []
    if (c.reporter.window.from <= c.reporter.window.to) {
      problems.push(
        `reporter.window: from (${c.reporter.window.from}s ago) must be earlier than to (${c.reporter.window.to}s ago)`
      )
    }
    const seen = new Map<string, number>()
    c.reporter.services.forEach((s, i) => {
      const key = `${s.name}\u0000${s.environment}`
      const first = seen.get(key)
      if (first !== undefined) {
        problems.push(
          `reporter.services[${i}]: duplicate of reporter.services[${first}] (${s.name} in ${s.environment}); remove one`
        )
      } else seen.set(key, i)
    })

    let secret = Option.fromNullable(c.status_dashboard.secret).pipe(Option.map((r) => trimSecret(Redacted.value(r))))
    if (Option.isSome(secret) && c.status_dashboard.secret_file !== undefined) {
      problems.push("status_dashboard: secret and secret_file are both set in one place; keep one")
    } else if (c.status_dashboard.secret_file !== undefined) {
      const secretPath = path.resolve(path.dirname(file), c.status_dashboard.secret_file)
      const text = yield* Effect.either(readBounded(secretPath, MAX_SECRET_BYTES))
      if (Either.isLeft(text)) {
        problems.push(`status_dashboard.secret_file: ${readProblem(secretPath, text.left, MAX_SECRET_BYTES)}`)
      } else if (trimSecret(text.right).length === 0) problems.push(`status_dashboard.secret_file: ${secretPath} is empty`)
      else secret = Option.some(trimSecret(text.right))
    } else if (Option.isNone(secret) || secret.value === "") {
      problems.push(
        "status_dashboard.secret: is required but missing; set it in the file, with MP_STATUS_DASHBOARD__SECRET, or point status_dashboard.secret_file at a file holding it"
      )
    }
    if (problems.length > 0 || Option.isNone(secret)) return yield* fail(...problems)

    if (new TextEncoder().encode(secret.value).length < 32) {
      warnings.push(
        "status_dashboard.secret is shorter than 32 bytes: HS256 wants a key at least as long as its hash; use a longer random secret"
      )
    }
    const dashUrl = new URL(c.status_dashboard.url)
    if (dashUrl.protocol === "http:" && !isLoopback(dashUrl.hostname)) {
      warnings.push(
        `status_dashboard.url uses plain http to ${dashUrl.hostname}: tokens signed with the secret travel unencrypted; use https`
      )
    }
    const budget = c.reporter.poll_interval * PHASE_SHARE
    for (const [key, timeout] of [["convertor.timeout", c.convertor.timeout], ["status_dashboard.timeout", c.status_dashboard.timeout]] as const) {
      if (timeout > budget) {
        warnings.push(
          `${key} (${timeout}s) is longer than ${Math.round(PHASE_SHARE * 100)}% of reporter.poll_interval (${c.reporter.poll_interval}s): each attempt is cut to ${Number(budget.toFixed(3))}s; lower ${key} or raise reporter.poll_interval`
        )
      }
    }
    if (c.reporter.services.length === 0) {
      warnings.push("No services being polled: reporter.services is empty; add {name, environment} entries")
    }

    const config: ReporterConfig = {
      source: file,
      convertor: { url: c.convertor.url.replace(/\/+$/, ""), timeout: Duration.seconds(c.convertor.timeout) },
      dashboard: {
        type: c.status_dashboard.type,
        url: c.status_dashboard.url.replace(/\/+$/, ""),
        secret: Redacted.make(secret.value),
        timeout: Duration.seconds(c.status_dashboard.timeout)
      },
      pollInterval: Duration.seconds(c.reporter.poll_interval),
      concurrency: c.reporter.concurrency,
      window: { from: Duration.seconds(c.reporter.window.from), to: Duration.seconds(c.reporter.window.to) },
      services: c.reporter.services
    }
    return { config, warnings }
  })
