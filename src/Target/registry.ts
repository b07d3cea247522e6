/**
 * What each target type is, as the configuration sees it: its keys (made of
 * Fields.ts), its secrets, its kind, the settings that make two targets "the
 * same" (the notification policy's tracks survive a reload across them), and
 * the address `validate --connect` reaches. The configuration decodes targets
 * from this table alone; how a port is built is the adapter's business
 * (Target/<Type>.ts, chosen in Target/adapters.ts), so nothing in Config/
 * imports an adapter. A new type is one entry here and one adapter file.
 */
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { BaseUrl, expected, Mapping, mapping, NonEmptyString, type NotifySection, optional, orElse, type Selector } from "../Fields.js"

/**
 * A secret key: `key` and its `key_file` twin. `map: "headers"`: a mapping
 * of HTTP headers whose every value is a secret (`headers`, and
 * `headers_file` naming a file for each).
 */
export interface SecretKey {
  readonly key: string
  readonly required: boolean
  readonly map?: "headers"
}

export interface TargetKind<Fields extends Schema.Struct.Fields> {
  /**
   * `dashboard`: may be `status_dashboard`, and de-duplicates, so it takes
   * every poll unless told otherwise; `notifier` (chat, paging, status pages):
   * takes changes, and recoveries.
   */
  readonly kind: "dashboard" | "notifier"
  /** Its own keys, besides `type`, `name`, `timeout`, `notify` and the secrets. */
  readonly fields: Fields
  readonly secrets: ReadonlyArray<SecretKey>
  /** The settings that make it another target when they change; secrets, `timeout` and `notify` never do. */
  readonly identity: ReadonlyArray<keyof Fields & string>
  /** Where it is reached, for `validate --connect` when it has no read-only request: a URL, or a secret's name holding one. */
  readonly address: { readonly setting: keyof Fields & string } | { readonly secret: string }
  /** Settings that are URLs whose path may be a credential: shown by their origin only. */
  readonly pathSecret?: ReadonlyArray<keyof Fields & string>
  /**
   * What can be known wrong at load, once its secrets are read: one problem
   * per line, naming the key and never echoing a secret (PagerDuty: a
   * routing key is 32 characters; a `dedup_key` at most 255).
   */
  readonly check?: (spec: TargetSpec, services: ReadonlyArray<{ readonly name: string; readonly environment: string }>) => ReadonlyArray<string>
  /**
   * Its policy when nothing is configured, under the configuration's and its
   * own `notify:` (Policy.ts); absent: its kind's (dashboards take every
   * poll and no recovery, notifiers changes and recoveries).
   */
  readonly notify?: NotifySection
}

const kind = <Fields extends Schema.Struct.Fields>(k: TargetKind<Fields>): TargetKind<Fields> => k

const Severity = Schema.Literal("critical", "error", "warning", "info")
/** The Stackmon dashboard's scale: 1 minor, 2 major, 3 outage (status-dashboard-v3:internal/api/v2/v2.go:32-37). */
const StackmonImpact = Schema.Literal(1, 2, 3).annotations(expected("1 (minor), 2 (major) or 3 (outage)"))
const ComponentStatus = Schema.Literal("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")

export const REGISTRY = {
  generic: kind({
    kind: "dashboard",
    fields: { url: BaseUrl },
    secrets: [{ key: "secret", required: true }],
    identity: ["url"],
    address: { setting: "url" }
  }),
  stackmon: kind({
    kind: "dashboard",
    fields: {
      url: BaseUrl,
      api: orElse(Schema.Literal("v2", "v1"), "v2"),
      environments: orElse(Mapping(Mapping(Schema.String)), {}),
      components: orElse(Mapping(NonEmptyString), {}),
      // The dashboard counts only impact 3 as downtime (v2.go:1449-1452): an outage is an outage.
      impact: orElse(Schema.Struct({ degraded: orElse(StackmonImpact, 1), outage: orElse(StackmonImpact, 3) }).annotations(mapping), {})
    },
    secrets: [{ key: "secret", required: false }],
    identity: ["url", "api", "environments", "components"],
    address: { setting: "url" },
    // Every poll (a dashboard it closed by hand is opened again), and the recovery that closes the incident.
    notify: { mode: "every_poll", send_resolved: true }
  }),
  statuspage: kind({
    kind: "notifier",
    fields: {
      url: orElse(BaseUrl, "https://api.statuspage.io/v1"),
      page_id: NonEmptyString,
      components: orElse(Mapping(NonEmptyString), {}),
      status: orElse(Mapping(ComponentStatus), { "1": "degraded_performance", "2": "major_outage" })
    },
    secrets: [{ key: "api_key", required: true }],
    identity: ["url", "page_id", "components", "status"],
    address: { setting: "url" }
  }),
  pagerduty: kind({
    kind: "notifier",
    fields: {
      url: orElse(BaseUrl, "https://events.pagerduty.com/v2/enqueue"),
      severity: orElse(Mapping(Severity), { "1": "warning", "2": "critical" }),
      // Shown on the alert as who sent it, and where to look (the status page, a dashboard).
      client: orElse(NonEmptyString, "cloudmon-metrics-reporter"),
      client_url: optional(BaseUrl)
    },
    secrets: [{ key: "routing_key", required: true }],
    identity: ["url", "severity"],
    address: { setting: "url" },
    check: (spec, services) => {
      const key = spec.secrets["routing_key"]
      const length = key === undefined ? 32 : Redacted.value(key).trim().length
      return [
        // An Events API v2 integration key is 32 characters; PagerDuty answers any other 400 (its own words:
        // "Length of 'routing_key' is incorrect").
        ...(length === 32 ? [] : [`${spec.path}.routing_key: a PagerDuty routing key (an Events API v2 integration key) is 32 characters, this one is ${length}; copy it again from the integration's page`]),
        // dedup_key is "service/environment": at most 255 characters (developer-docs:docs/events-API-v2/02-Trigger-Events.md:19).
        ...services
          .filter((s) => s.name.length + 1 + s.environment.length > 255)
          .map((s) => `reporter.services: "${s.name.slice(0, 40)}…/${s.environment.slice(0, 40)}" is longer than the 255 characters PagerDuty allows in a dedup_key (${spec.path}); shorten its name or environment`)
      ]
    }
  }),
  slack: kind({
    kind: "notifier",
    fields: {},
    // The webhook URL is the credential: it is never shown.
    secrets: [{ key: "webhook_url", required: true }],
    identity: [],
    address: { secret: "webhook_url" }
  }),
  webhook: kind({
    kind: "notifier",
    fields: {
      url: BaseUrl,
      // true (the default): a cycle's notifications in one POST, {"count", "notifications": [...]};
      // false: one POST per notification, the generic body as it is.
      group: orElse(Schema.Boolean.annotations(expected("true or false")), true)
    },
    // Header values are often tokens: every one is a secret, given inline or each in a file of its own.
    secrets: [{ key: "secret", required: false }, { key: "headers", required: false, map: "headers" }],
    identity: ["url"],
    address: { setting: "url" },
    pathSecret: ["url"]
  })
} as const

export type TargetType = keyof typeof REGISTRY

export const TARGET_TYPES = Object.keys(REGISTRY) as ReadonlyArray<TargetType>

/** The types `status_dashboard` may be: the dashboards. */
export const DASHBOARD_TYPES = TARGET_TYPES.filter((t) => REGISTRY[t].kind === "dashboard")

/** Every secret key of every type: `K` and `K_file` are two ways to say one thing (maps excepted: their entries merge). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(Object.values(REGISTRY).flatMap((t) => (t.secrets as ReadonlyArray<SecretKey>).filter((s) => !s.map).map((s) => s.key)))

/** What every target's settings have besides its type's own fields. */
export interface CommonSettings {
  readonly timeout: Duration.Duration
  readonly notify?: NotifySection
  readonly match?: Selector
  readonly exclude?: Selector
}

/** A type's settings, as its fields decode them. */
export type SettingsOf<T extends TargetType> = Schema.Struct.Type<(typeof REGISTRY)[T]["fields"]> & CommonSettings

/** One target as configured: its decoded settings, and its secrets as read (from the value or its `*_file` twin). */
export interface TargetSpec<Settings = unknown> {
  readonly type: string
  readonly name: string
  /** Where it is configured, for messages: `status_dashboard`, `notifiers[1]`. */
  readonly path: string
  readonly settings: Settings
  readonly secrets: Readonly<Record<string, Redacted.Redacted<string> | undefined>>
  /** Map-valued secrets (a webhook's `headers`, inline and from files together), by key. */
  readonly secretMaps: Readonly<Record<string, Readonly<Record<string, Redacted.Redacted<string>>>>>
}

const plain = (v: unknown): unknown =>
  Duration.isDuration(v)
    ? Duration.toMillis(v)
    : Array.isArray(v)
      ? v.map(plain)
      : typeof v === "object" && v !== null
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, plain(x)]))
        : v

/**
 * A target's identity for the notification policy: its type and the settings
 * its type names, secrets aside (a rotated key is the same dashboard; a new
 * URL is another one).
 */
export const identityOf = (spec: TargetSpec): string => {
  const settings = spec.settings as Record<string, unknown>
  const keys = REGISTRY[spec.type as TargetType].identity as ReadonlyArray<string>
  return JSON.stringify([spec.type, keys.map((k) => plain(settings[k]))])
}

/** Where `validate --connect` reaches a target that has no read-only request, if anywhere. */
export const addressOf = (spec: TargetSpec): string | undefined => {
  const where = REGISTRY[spec.type as TargetType].address
  if ("setting" in where) return (spec.settings as Record<string, string | undefined>)[where.setting]
  const secret = spec.secrets[where.secret]
  return secret === undefined ? undefined : Redacted.value(secret)
}
