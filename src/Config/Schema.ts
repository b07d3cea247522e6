/**
 * The configuration file's format, and what it decodes to: the one place a
 * key, its default, its bounds and its message are written. The program
 * uses the decoded type as it is (seconds become Durations, URLs lose their
 * trailing slash); the list of known keys is derived from this schema.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { DASHBOARD_TYPES, REGISTRY, type SecretKey, TARGET_TYPES, type TargetType } from "../Target/registry.js"
import {
  BaseUrl,
  Headers,
  HeaderValue,
  expected,
  Concurrency,
  list,
  IsoInstant,
  ListenAddress,
  mapping,
  NonEmptyString,
  NotifySection,
  optional,
  orElse,
  PollInterval,
  seconds,
  Secret,
  Selector,
  bounded,
  ServiceRef,
  show,
  Timeout,
  WindowSeconds
} from "../Fields.js"

/**
 * Services polled at once within a cycle. Each request is mostly waiting on the
 * network, so this bounds sockets and memory more than CPU; see README.
 */
export const DEFAULT_CONCURRENCY = 32

/** A target as configured: its `type`, an optional `name`, and the keys of that type (Target/registry.ts). */
export interface TargetConfig {
  readonly type: TargetType
  readonly name?: string
  readonly [key: string]: unknown
}

/**
 * Each type's whole schema: what every target has (`type`, `name`, `timeout`),
 * its own fields (Target/registry.ts), and each of its secrets with its `*_file` twin.
 */
export const targetSchema = (type: TargetType) => {
  const a = REGISTRY[type]
  const secrets: Schema.Struct.Fields = Object.fromEntries(
    (a.secrets as ReadonlyArray<SecretKey>).flatMap((x): ReadonlyArray<readonly [string, Schema.Struct.Field]> =>
      x.map
        ? [[x.key, orElse(Headers(HeaderValue), {})], [`${x.key}_file`, orElse(Headers(NonEmptyString), {})]]
        : [[x.key, optional(Secret)], [`${x.key}_file`, optional(NonEmptyString)]]
    )
  )
  return Schema.Struct({
    type: Schema.Literal(type),
    name: optional(NonEmptyString),
    timeout: orElse(Timeout, 10),
    notify: optional(NotifySection),
    // Routing: which services this target is told about (Policy.ts).
    match: optional(Selector),
    exclude: optional(Selector),
    // A notifier is told when monitoring goes blind, and sees again (Blind.ts); false: not this one.
    blind_alerts: optional(Schema.Boolean.annotations(expected("true or false"))),
    ...secrets,
    ...a.fields
  })
}
const SCHEMAS = new Map<TargetType, Schema.Schema<unknown>>(TARGET_TYPES.map((t) => [t, targetSchema(t) as unknown as Schema.Schema<unknown>]))

/** Marks the dispatching schema, so that Config/Keys.ts can find each type's keys. */
export const TargetTypes = Symbol.for("cloudmon-metrics-reporter/TargetTypes")

/**
 * A target of one of `allowed` types (`fallback` when `type` is left out),
 * decoded by its type's own schema, so that a problem is named where it is
 * (`notifiers[1].page_id: is required but missing`).
 */
const target = (allowed: ReadonlyArray<TargetType>, fallback?: TargetType) =>
  Schema.transformOrFail(Schema.Unknown, Schema.Unknown, {
    strict: true,
    decode: (input, options, ast) => {
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        return ParseResult.fail(new ParseResult.Type(ast, input, `expected a mapping of keys, got ${show(input)}`))
      }
      const tree = input as Record<string, unknown>
      const type = tree["type"] ?? fallback
      if (type === undefined) return ParseResult.fail(new ParseResult.Pointer("type", input, new ParseResult.Type(ast, undefined, "is required but missing")))
      if (!allowed.includes(type as TargetType)) {
        const one = allowed.map((t) => JSON.stringify(t)).join(", ")
        return ParseResult.fail(new ParseResult.Pointer("type", input, new ParseResult.Type(ast, type, `expected one of ${one}, got ${show(type)}`)))
      }
      return ParseResult.decodeUnknown(SCHEMAS.get(type as TargetType)!)({ ...tree, type }, options)
    },
    encode: ParseResult.succeed
  }).annotations({ [TargetTypes]: allowed })

const asTarget = <I>(schema: Schema.Schema<unknown, I>) => schema as unknown as Schema.Schema<TargetConfig, I>

const WindowSection = Schema.Struct({
  from: orElse(WindowSeconds, 300),
  to: orElse(WindowSeconds, 120)
}).annotations(mapping)

const ReporterSection = Schema.Struct({
  poll_interval: orElse(PollInterval, 60),
  concurrency: orElse(Concurrency, DEFAULT_CONCURRENCY),
  window: orElse(WindowSection, {}),
  services: orElse(Schema.Array(ServiceRef).annotations(list), []),
  /** Where the notification policy's state survives a restart (Policy.ts); none: a restart starts afresh. */
  state_file: optional(NonEmptyString),
  /** Read the convertor's planned maintenance windows each cycle. */
  maintenances: orElse(Schema.Boolean.annotations(expected("true or false")), false),
  /** Cycles of failed reads after which monitoring is blind (every read) or a service unknown (its reads) (Blind.ts). */
  blind_after: orElse(bounded("a whole number of cycles", 1, 1000, true), 3)
}).annotations(mapping)

/** A planned maintenance window: notifications for its services are held back inside it. */
const MaintenanceWindow = Schema.Struct({
  services: Schema.Array(NonEmptyString).annotations(list),
  start: IsoInstant,
  end: IsoInstant
}).annotations(mapping)

/** The metrics and health endpoint (Observability.ts): off unless `listen` is set, so no inbound port unless asked. */
const ObservabilitySection = Schema.Struct({
  listen: optional(ListenAddress)
}).annotations(mapping)

/** A Kubernetes object's name (a DNS subdomain: lower case, digits, '-' and '.', at most 253) or a namespace's (a DNS label, at most 63). */
const kubeName = (what: string, max: number, pattern: RegExp) =>
  Schema.String.pipe(Schema.filter((s) => s.length <= max && pattern.test(s))).annotations(
    expected(`${what}: lower-case letters, digits and '-'${max > 63 ? " or '.'" : ""}, starting and ending with a letter or digit, at most ${max} characters`)
  )
const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const ObjectName = kubeName("a Kubernetes object name", 253, new RegExp(`^${LABEL}(\\.${LABEL})*$`))
const Namespace = kubeName("a Kubernetes namespace", 63, new RegExp(`^${LABEL}$`))

/**
 * High availability on Kubernetes (Kube/Elector.ts): off unless `ha.lease`
 * is set. The timings' defaults are client-go's (kube-controller-manager's).
 */
const HaSection = Schema.Struct({
  lease: Schema.Struct({
    name: ObjectName,
    /** Default: the pod's namespace (the service account's), or the kubeconfig context's. */
    namespace: optional(Namespace),
    duration: orElse(seconds("a whole number of seconds", 1, 3600, true), 15),
    renew_deadline: orElse(seconds("a number of seconds", 0.1, 3600), 10),
    retry_period: orElse(seconds("a number of seconds", 0.05, 600), 2)
  }).annotations(mapping),
  /** Where the policy's state lives: a ConfigMap of its own, the Lease's annotations, or nowhere (memory only). */
  state: orElse(Schema.Literal("configmap", "lease", "none").annotations(expected('one of "configmap", "lease", "none"')), "configmap"),
  /** The ConfigMap's name; default: `<lease name>-state`. */
  state_configmap: optional(ObjectName)
}).annotations(mapping)

/** The file format, as written by users (after merging), and the program's configuration once decoded. */
export const ConfigFile = Schema.Struct({
  convertor: Schema.Struct({
    url: BaseUrl,
    timeout: orElse(Timeout, 10)
  }).annotations(mapping),
  status_dashboard: asTarget(target(DASHBOARD_TYPES, "generic")),
  notifiers: orElse(Schema.Array(asTarget(target(TARGET_TYPES))).annotations(list), []),
  notify: orElse(NotifySection, {}),
  maintenance: orElse(Schema.Array(MaintenanceWindow).annotations(list), []),
  reporter: orElse(ReporterSection, {}),
  observability: orElse(ObservabilitySection, {}),
  ha: optional(HaSection)
})
export type ConfigFile = typeof ConfigFile.Type

/** The top-level sections: an empty one (`convertor:` alone) is read as `{}`, so its missing keys get named. */
export const SECTIONS = Object.keys(ConfigFile.fields)
