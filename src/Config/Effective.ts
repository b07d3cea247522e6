/**
 * The configuration as the program runs it: for `validate` (every default
 * filled in, every secret `<redacted>`), and for live reload (what changed,
 * in one line, naming a secret that changed but never showing it).
 */
import { createHash } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { hideUserinfo, originOf, serviceKey } from "../Domain.js"
import { REGISTRY, type TargetSpec, type TargetType } from "../Target/registry.js"
import { ConfigFile } from "./Schema.js"

interface Loaded extends ConfigFile {
  readonly targets: ReadonlyArray<TargetSpec>
}

/** Durations as seconds, secrets as `secret(value)`, everything else as it is. */
const plain = (v: unknown, secret: (r: Redacted.Redacted<unknown>) => unknown, text: (s: string) => string): unknown => {
  if (Redacted.isRedacted(v)) return secret(v)
  if (Duration.isDuration(v)) return Duration.toSeconds(v)
  if (typeof v === "string") return text(v)
  if (Array.isArray(v)) return v.map((x) => plain(x, secret, text))
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x, secret, text)]))
  return v
}

const encode = Schema.encodeSync(ConfigFile)

/** The file as the program reads it after merging and defaults: plain data, ready to print as YAML. Never a secret or a URL's password. */
export const effective = (config: Loaded, policies: ReadonlyMap<string, Readonly<Record<string, unknown>>> = new Map()): unknown => {
  const { targets, ...file } = config
  const encoded = encode(file as ConfigFile) as unknown as Record<string, unknown>
  const named = (t: unknown, i: number) => {
    const spec = targets[i]!
    const hidden = ((REGISTRY[spec.type as TargetType] as { pathSecret?: ReadonlyArray<string> }).pathSecret ?? []).filter((k) => typeof (t as Record<string, unknown>)[k] === "string")
    // The policy the target runs with (its kind's and type's defaults under the top-level and its own notify:), not the keys given.
    const policy = policies.get(spec.name)
    return { ...(t as object), ...Object.fromEntries(hidden.map((k) => [k, originOf((t as Record<string, string>)[k]!)])), name: spec.name, ...(policy === undefined ? {} : { notify: policy }) }
  }
  return plain(
    {
      ...encoded,
      status_dashboard: named(encoded["status_dashboard"], 0),
      notifiers: (encoded["notifiers"] as ReadonlyArray<unknown>).map((t, i) => named(t, i + 1))
    },
    () => "<redacted>",
    hideUserinfo
  )
}

const digest = (r: Redacted.Redacted<unknown>) => `sha256:${createHash("sha256").update(String(Redacted.value(r))).digest("hex")}`
const same = (a: unknown, b: unknown) => JSON.stringify(plain(a, digest, (s) => s)) === JSON.stringify(plain(b, digest, (s) => s))

const list = (items: ReadonlyArray<string>) => (items.length <= 5 ? items.join(", ") : `${items.slice(0, 5).join(", ")} and ${items.length - 5} more`)

/** What differs between two valid configurations, as short phrases (empty: nothing). */
export const changes = (before: Loaded, after: Loaded): ReadonlyArray<string> => {
  const out: Array<string> = []
  const ids = (c: Loaded) => c.reporter.services.map(serviceKey)
  const added = ids(after).filter((s) => !ids(before).includes(s))
  const removed = ids(before).filter((s) => !ids(after).includes(s))
  if (added.length > 0) out.push(`services added: ${list(added)}`)
  if (removed.length > 0) out.push(`services removed: ${list(removed)}`)
  const seconds = (d: Duration.Duration) => `${Duration.toSeconds(d)}s`
  if (!Duration.equals(before.reporter.poll_interval, after.reporter.poll_interval)) {
    out.push(`reporter.poll_interval ${seconds(before.reporter.poll_interval)} -> ${seconds(after.reporter.poll_interval)}`)
  }
  if (before.reporter.concurrency !== after.reporter.concurrency) out.push(`reporter.concurrency ${before.reporter.concurrency} -> ${after.reporter.concurrency}`)
  for (const key of ["window", "state_file", "maintenances"] as const) {
    if (!same(before.reporter[key], after.reporter[key])) out.push(`reporter.${key} changed`)
  }
  for (const key of ["convertor", "notify", "maintenance"] as const) if (!same(before[key], after[key])) out.push(`${key} changed`)
  const names = (c: Loaded) => c.targets.map((t) => t.name)
  const newTargets = names(after).filter((n) => !names(before).includes(n))
  const goneTargets = names(before).filter((n) => !names(after).includes(n))
  if (newTargets.length > 0) out.push(`targets added: ${list(newTargets)}`)
  if (goneTargets.length > 0) out.push(`targets removed: ${list(goneTargets)}`)
  for (const t of after.targets) {
    const old = before.targets.find((o) => o.name === t.name)
    if (old === undefined) continue
    const what = [
      ...(same(old.settings, t.settings) ? [] : ["settings"]),
      ...(same({ ...old.secrets, ...old.secretMaps }, { ...t.secrets, ...t.secretMaps }) ? [] : ["secrets"])
    ]
    if (what.length > 0) out.push(`target ${t.name}: ${what.join(" and ")} changed`)
  }
  if (!same(before.observability, after.observability)) out.push("observability.listen changed: that takes a restart; the endpoint stays where it is")
  if (!same(before.ha, after.ha)) out.push("ha changed: that takes a restart; the lease and the state's place stay as they were")
  return out
}
