/**
 * What the schema cannot say alone: problems across keys, the secret read
 * from wherever it is given, and the warnings a configuration can run with.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import { PHASE_SHARE, phaseBudget } from "../Budget.js"
import { serviceKey } from "../Domain.js"
import type { ConfigFile } from "./Schema.js"
import { MAX_SECRET_BYTES, readBounded, readProblem } from "./Sources.js"

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`), "")

/** Schema issues as `reporter.poll_interval: expected a positive number of seconds…, got "often"`. */
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

/** Problems between keys: a window the wrong way round, a service listed twice. */
export const crossProblems = (c: ConfigFile): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const { from, to } = c.reporter.window
  if (Duration.lessThanOrEqualTo(from, to)) {
    problems.push(`reporter.window: from (${Duration.toSeconds(from)}s ago) must be earlier than to (${Duration.toSeconds(to)}s ago)`)
  }
  const seen = new Map<string, number>()
  c.reporter.services.forEach((s, i) => {
    const first = seen.get(serviceKey(s))
    if (first === undefined) seen.set(serviceKey(s), i)
    else problems.push(`reporter.services[${i}]: duplicate of reporter.services[${first}] (${s.name} in ${s.environment}); remove one`)
  })
  return problems
}

/** One trailing newline (as `echo` and editors leave) is not part of a secret, wherever it came from. */
const trimSecret = (value: string): string => value.replace(/\r?\n$/, "")

/** The dashboard secret, from `secret` (file or environment) or the file `secret_file` names (relative to the config file). */
export const resolveSecret = (
  dashboard: ConfigFile["status_dashboard"],
  resolvePath: (name: string) => string
): Effect.Effect<Either.Either<Redacted.Redacted<string>, string>, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const inline = dashboard.secret === undefined ? "" : trimSecret(Redacted.value(dashboard.secret))
    if (dashboard.secret !== undefined && dashboard.secret_file !== undefined) {
      return Either.left("status_dashboard: secret and secret_file are both set in one place; keep one")
    }
    if (dashboard.secret_file !== undefined) {
      const path = resolvePath(dashboard.secret_file)
      const text = yield* Effect.either(readBounded(path, MAX_SECRET_BYTES))
      if (Either.isLeft(text)) return Either.left(`status_dashboard.secret_file: ${readProblem(path, text.left, MAX_SECRET_BYTES)}`)
      const value = trimSecret(text.right)
      return value === "" ? Either.left(`status_dashboard.secret_file: ${path} is empty`) : Either.right(Redacted.make(value))
    }
    return inline === ""
      ? Either.left(
          "status_dashboard.secret: is required but missing; set it in the file, with MP_STATUS_DASHBOARD__SECRET, or point status_dashboard.secret_file at a file holding it"
        )
      : Either.right(Redacted.make(inline))
  })

const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)

/** What the program can run with, but should say. */
export const warningsFor = (c: ConfigFile, secret: Redacted.Redacted<string>): ReadonlyArray<string> => {
  const warnings: Array<string> = []
  if (new TextEncoder().encode(Redacted.value(secret)).length < 32) {
    warnings.push("status_dashboard.secret is shorter than 32 bytes: HS256 wants a key at least as long as its hash; use a longer random secret")
  }
  const dashboard = new URL(c.status_dashboard.url)
  if (dashboard.protocol === "http:" && !isLoopback(dashboard.hostname)) {
    warnings.push(`status_dashboard.url uses plain http to ${dashboard.hostname}: tokens signed with the secret travel unencrypted; use https`)
  }
  const interval = Duration.toSeconds(c.reporter.poll_interval)
  const budget = phaseBudget(c.reporter.poll_interval)
  for (const [key, timeout] of [["convertor.timeout", c.convertor.timeout], ["status_dashboard.timeout", c.status_dashboard.timeout]] as const) {
    if (Duration.greaterThan(timeout, budget)) {
      warnings.push(
        `${key} (${Duration.toSeconds(timeout)}s) is longer than ${Math.round(PHASE_SHARE * 100)}% of reporter.poll_interval (${interval}s): ` +
          `each attempt is cut to ${Duration.toSeconds(budget)}s; lower ${key} or raise reporter.poll_interval`
      )
    }
  }
  if (c.reporter.services.length === 0) warnings.push("No services being polled: reporter.services is empty; add {name, environment} entries")
  return warnings
}
