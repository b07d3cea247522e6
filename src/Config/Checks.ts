/**
 * What the schema cannot say alone: problems across keys, the secret read
 * from wherever it is given, and the warnings a configuration can run with.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import { PHASE_SHARE, phaseBudget } from "../Budget.js"
import { JITTER_FACTOR } from "../Kube/Elector.js"
import { headerValueProblem, routeOf, type Selector } from "../Fields.js"
import { REGISTRY, type SecretKey, type TargetKind, type TargetSpec } from "../Target/registry.js"
import { serviceId } from "../Domain.js"
import type { ConfigFile, TargetConfig } from "./Schema.js"
import { readBounded, readProblem } from "../Files.js"
import { MAX_SECRET_BYTES } from "./Sources.js"

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
    const safe = /secret|headers|routing_key|webhook_url|api_key/i.test(where) ? what.replace(/,? (got|actual) [\s\S]*$/, "") : what
    return where === "" ? safe : `${where}: ${safe}`
  })

/** Problems between keys: a window the wrong way round, a service listed twice. */
export const crossProblems = (c: ConfigFile): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const { from, to } = c.reporter.window
  if (Duration.lessThanOrEqualTo(from, to)) {
    problems.push(`reporter.window: from (${Duration.toSeconds(from)}s ago) must be earlier than to (${Duration.toSeconds(to)}s ago)`)
  }
  c.maintenance.forEach((w, i) => {
    if (w.end <= w.start) problems.push(`maintenance[${i}]: end (${new Date(w.end).toISOString()}) must be later than start (${new Date(w.start).toISOString()})`)
  })
  const seen = new Map<string, number>()
  c.reporter.services.forEach((s, i) => {
    const first = seen.get(serviceId(s))
    if (first === undefined) seen.set(serviceId(s), i)
    else problems.push(`reporter.services[${i}]: duplicate of reporter.services[${first}] (${s.name} in ${s.environment}); remove one`)
  })
  if (c.ha !== undefined && c.reporter.state_file !== undefined) {
    problems.push(
      `reporter.state_file: with ha, replicas do not share a file; the state lives in the cluster (ha.state: ${c.ha.state}): remove reporter.state_file`
    )
  }
  if (c.ha !== undefined) {
    const { duration, renew_deadline, retry_period } = c.ha.lease
    // client-go NewLeaderElector's checks (leaderelection.go): the lease outlives the renew deadline, which outlives 1.2 retries.
    if (Duration.lessThanOrEqualTo(duration, renew_deadline)) {
      problems.push(`ha.lease: duration (${Duration.toSeconds(duration)}s) must be greater than renew_deadline (${Duration.toSeconds(renew_deadline)}s), or a standby could take over while the leader still acts`)
    }
    if (Duration.toMillis(renew_deadline) <= JITTER_FACTOR * Duration.toMillis(retry_period)) {
      problems.push(`ha.lease: renew_deadline (${Duration.toSeconds(renew_deadline)}s) must be greater than ${JITTER_FACTOR} x retry_period (${Duration.toSeconds(retry_period)}s)`)
    }
    const stateName = c.ha.state_configmap ?? `${c.ha.lease.name}-state`
    if (c.ha.state === "configmap" && stateName.length > 253) problems.push(`ha.lease.name: ${stateName} (the state's ConfigMap) is longer than 253 characters: shorten the name, or set ha.state_configmap`)
  }
  return problems
}

/** One trailing newline (as `echo` and editors leave) is not part of a secret, wherever it came from. */
const trimSecret = (value: string): string => value.replace(/\r?\n$/, "")

/** `notifiers[1]` + `routing_key` -> `MP_NOTIFIERS__1__ROUTING_KEY`. */
const envName = (path: string, key: string) => `MP_${path.replace(/\[(\d+)\]/g, "__$1").replace(/\./g, "__")}__${key}`.toUpperCase()

type ReadFile = (name: string) => Effect.Effect<Either.Either<string, string>, never, FileSystem.FileSystem>

/** One secret: its value, or the file its `*_file` twin names (relative to the config file), never both. */
const readSecret = (target: TargetConfig, path: string, key: string, required: boolean, read: ReadFile) =>
  Effect.gen(function* () {
    const value = target[key] as Redacted.Redacted<string> | undefined
    const file = target[`${key}_file`] as string | undefined
    if (value !== undefined && file !== undefined) return Either.left(`${path}: ${key} and ${key}_file are both set in one place; keep one`)
    const secret = file !== undefined ? yield* read(file) : Either.right(value === undefined ? "" : Redacted.value(value))
    if (Either.isLeft(secret)) return Either.left(`${path}.${key}_file: ${secret.left}`)
    const trimmed = trimSecret(secret.right)
    if (file !== undefined && trimmed === "") return Either.left(`${path}.${key}_file: ${file} is empty`)
    // A secret that is a URL (a Slack webhook) is checked as one, without being shown.
    if (trimmed !== "" && key.endsWith("url") && !/^https?:\/\/[^\s/]+/.test(trimmed)) {
      return Either.left(`${path}.${key}: expected an http:// or https:// URL (not shown: it is a secret)`)
    }
    if (trimmed !== "") return Either.right(Option.some(Redacted.make(trimmed)))
    return required
      ? Either.left(
          `${path}.${key}: is required but missing; set it in the file, with ${envName(path, key)}, or point ${path}.${key}_file at a file holding it`
        )
      : Either.right(Option.none())
  })

/**
 * Every target, the primary dashboard first (named `dashboard`), each
 * notifier named by its `name` or `type#index`, with its secrets read.
 */
export const resolveTargets = (
  c: ConfigFile,
  resolvePath: (name: string) => string
): Effect.Effect<Either.Either<ReadonlyArray<TargetSpec>, ReadonlyArray<string>>, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const read: ReadFile = (name) =>
      Effect.map(Effect.either(readBounded(resolvePath(name), MAX_SECRET_BYTES)), Either.mapLeft((reason) => readProblem(resolvePath(name), reason, MAX_SECRET_BYTES)))
    const configured = [
      { target: c.status_dashboard, path: "status_dashboard", name: "dashboard" },
      ...c.notifiers.map((target, i) => ({ target, path: `notifiers[${i}]`, name: target.name ?? `${target.type}#${i}` }))
    ]
    const problems: Array<string> = []
    const specs: Array<TargetSpec> = []
    const seen = new Map<string, string>()
    for (const { target, path, name } of configured) {
      const first = seen.get(name)
      if (first !== undefined) problems.push(`${path}.name: "${name}" is also the name of ${first}; names must be unique`)
      seen.set(name, path)
      const secrets: Record<string, Redacted.Redacted<string> | undefined> = {}
      const secretMaps: Record<string, Record<string, Redacted.Redacted<string>>> = {}
      for (const { key, required, map } of REGISTRY[target.type].secrets as ReadonlyArray<SecretKey>) {
        if (map) {
          // A mapping of secrets (webhook headers): inline values, and a `*_file` twin whose every value is a file.
          const entries = { ...((target[key] ?? {}) as Record<string, Redacted.Redacted<string>>) }
          for (const [entry, file] of Object.entries((target[`${key}_file`] ?? {}) as Record<string, string>)) {
            const text = yield* read(file)
            const value = Either.map(text, trimSecret)
            const problem = Either.isLeft(value) ? value.left : headerValueProblem(value.right)
            if (problem !== undefined) problems.push(`${path}.${key}_file.${entry}: ${problem}`)
            else entries[entry] = Redacted.make(Either.getOrThrow(value))
          }
          secretMaps[key] = entries
          continue
        }
        const secret = yield* readSecret(target, path, key, required, read)
        if (Either.isLeft(secret)) problems.push(secret.left)
        else secrets[key] = Option.getOrUndefined(secret.right)
      }
      const { type, name: _name, ...settings } = target
      const spec: TargetSpec = { type, name, path, settings, secrets, secretMaps }
      // What the type can tell is wrong once its secrets are read (a PagerDuty key's length).
      problems.push(...((REGISTRY[target.type] as Pick<TargetKind<never>, "check">).check?.(spec, c.reporter.services) ?? []))
      specs.push(spec)
    }
    return problems.length > 0 ? Either.left(problems) : Either.right(specs)
  })

const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)

/** What the program can run with, but should say. */
export const warningsFor = (c: ConfigFile, targets: ReadonlyArray<TargetSpec>, timeoutSet: (path: string) => boolean = () => true): ReadonlyArray<string> => {
  const warnings: Array<string> = []
  for (const t of targets) {
    const secret = t.secrets["secret"]
    if (secret !== undefined && new TextEncoder().encode(Redacted.value(secret)).length < 32) {
      warnings.push(`${t.path}.secret is shorter than 32 bytes: HS256 wants a key at least as long as its hash; use a longer random secret`)
    }
    const url = (t.settings as { readonly url?: string }).url
    const host = url === undefined ? undefined : new URL(url)
    if (host !== undefined && host.protocol === "http:" && !isLoopback(host.hostname) && Object.values(t.secrets).some((v) => v !== undefined)) {
      warnings.push(`${t.path}.url uses plain http to ${host.hostname}: credentials travel unencrypted; use https`)
    }
  }
  const interval = Duration.toSeconds(c.reporter.poll_interval)
  const budget = phaseBudget(c.reporter.poll_interval)
  const timeouts = [["convertor", c.convertor.timeout], ...targets.map((t) => [t.path, (t.settings as { readonly timeout: Duration.Duration }).timeout] as const)] as const
  for (const [path, timeout] of timeouts) {
    const key = `${path}.timeout`
    // Only a timeout someone set: one left to its default follows the interval (Config.ts).
    if (timeoutSet(path) && Duration.greaterThan(timeout, budget)) {
      warnings.push(
        `${key} (${Duration.toSeconds(timeout)}s) is longer than ${Math.round(PHASE_SHARE * 100)}% of reporter.poll_interval (${interval}s): ` +
          `each attempt is cut to ${Duration.toSeconds(budget)}s; lower ${key} or raise reporter.poll_interval`
      )
    }
  }
  for (const t of targets) {
    const route = routeOf(t.settings as { readonly match?: Selector; readonly exclude?: Selector })
    if (route !== undefined && c.reporter.services.length > 0 && !c.reporter.services.some(route)) {
      warnings.push(`${t.path}: its match/exclude selects none of reporter.services: it will be told nothing; check ${t.path}.match and ${t.path}.exclude`)
    }
  }
  if (c.reporter.services.length === 0) warnings.push("No services being polled: reporter.services is empty; add {name, environment} entries")
  return warnings
}
