/**
 * The Stackmon dashboard's components, and which one is a service's: the
 * component of its name (or `components[name]`) whose attributes include its
 * environment's (`environments[env]`). None, or more than one, is refused for
 * that service with what would fix it. Both servers' lists decode here
 * (docs/stackmon-servers.md A6, B1).
 */
import * as Schema from "effect/Schema"
import { closest, type ServiceRef, serviceKey } from "../../Domain.js"

/**
 * One component as either server lists it. The Go server leaves `name` and
 * `attributes` out when empty (`omitempty`, status-dashboard-v3:internal/db/models.go:14-15),
 * so neither is required.
 */
const Component = Schema.Struct({
  id: Schema.Number,
  name: Schema.optionalWith(Schema.String, { default: () => "" }),
  attributes: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String }))), { default: () => [] })
})
export type Component = typeof Component.Type

export const decodeComponents = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Component)))

/** What a service asks for: a component name and the attributes its environment requires. */
export interface Wanted {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
}

export const wantedFor = (
  settings: { readonly components: Readonly<Record<string, string>>; readonly environments: Readonly<Record<string, Readonly<Record<string, string>>>> },
  service: ServiceRef
): Wanted => ({ name: settings.components[service.name] ?? service.name, attributes: settings.environments[service.environment] ?? {} })

const attributesOf = (c: Component): ReadonlyArray<{ readonly name: string; readonly value: string }> => c.attributes ?? []

const has = (c: Component, w: Wanted) =>
  c.name === w.name && Object.entries(w.attributes).every(([k, v]) => attributesOf(c).some((a) => a.name === k && a.value === v))

export type Match =
  | { readonly _tag: "One"; readonly component: Component }
  | { readonly _tag: "None"; readonly closest: ReadonlyArray<string> }
  | { readonly _tag: "Many"; readonly candidates: ReadonlyArray<Component> }
  /** The component of several services: each would undo what the other said (a lower impact, a recovery). */
  | { readonly _tag: "Shared"; readonly component: Component; readonly services: ReadonlyArray<ServiceRef> }

const regionOf = (c: Component) => attributesOf(c).find((a) => a.name === "region")?.value

/**
 * The one component with the wanted name whose attributes include the wanted
 * ones. `byRegion`: API v1 on the Go server finds a component by name and
 * region only (status-dashboard-v3:internal/db/db.go:423-431), so another of
 * the same name and region (another category) makes it ambiguous there.
 */
export const match = (all: ReadonlyArray<Component>, w: Wanted, byRegion = false): Match => {
  const found = all.filter((c) => has(c, w))
  if (found.length > 1) return { _tag: "Many", candidates: found }
  if (found.length === 1) {
    const one = found[0]!
    const twins = byRegion ? all.filter((c) => c.name === one.name && regionOf(c) === regionOf(one)) : [one]
    return twins.length > 1 ? { _tag: "Many", candidates: twins } : { _tag: "One", component: one }
  }
  return { _tag: "None", closest: closest(w.name, new Set(all.map((c) => c.name).filter((n) => n !== "")), 3) }
}

/** Each service's match, a component claimed by several services refused for all of them. */
export const matchAll = (all: ReadonlyArray<Component>, services: ReadonlyArray<ServiceRef>, wanted: (s: ServiceRef) => Wanted, byRegion = false) => {
  const matched = services.map((service) => ({ service, match: match(all, wanted(service), byRegion) }))
  const owners = new Map<number, Array<ServiceRef>>()
  for (const { service, match: m } of matched) if (m._tag === "One") owners.set(m.component.id, [...(owners.get(m.component.id) ?? []), service])
  return matched.map(({ service, match: m }): { readonly service: ServiceRef; readonly match: Match } => {
    const shared = m._tag === "One" ? owners.get(m.component.id)! : []
    return shared.length > 1 && m._tag === "One" ? { service, match: { _tag: "Shared", component: m.component, services: shared } } : { service, match: m }
  })
}

export const describeComponent = (c: Component): string => {
  const attributes = attributesOf(c)
  return `#${c.id} "${c.name}"${attributes.length === 0 ? "" : ` (${attributes.map((a) => `${a.name}=${a.value}`).join(", ")})`}`
}

const describeWanted = (w: Wanted) =>
  `"${w.name}"${Object.keys(w.attributes).length === 0 ? "" : ` with ${Object.entries(w.attributes).map(([k, v]) => `${k}=${v}`).join(", ")}`}`

/** The attributes whose values differ among the candidates: what tells them apart. */
const differing = (candidates: ReadonlyArray<Component>): ReadonlyArray<string> => {
  const names = new Set(candidates.flatMap((c) => attributesOf(c).map((a) => a.name)))
  return [...names].filter((name) => new Set(candidates.map((c) => attributesOf(c).find((a) => a.name === name)?.value ?? "")).size > 1)
}

/** Why a service has no component to report to, and what to set; undefined when it has one. */
export const matchProblem = (m: Match, service: ServiceRef, w: Wanted, where: { readonly peer: string; readonly path: string }): string | undefined => {
  switch (m._tag) {
    case "One":
      return undefined
    case "None":
      return (
        `no component ${describeWanted(w)} on the Stackmon dashboard at ${where.peer} for ${serviceKey(service)}` +
        `${m.closest.length === 0 ? "" : ` (closest names: ${m.closest.map((n) => `"${n}"`).join(", ")})`}; ` +
        `check ${where.path}.components and ${where.path}.environments`
      )
    case "Shared":
      return (
        `component ${describeComponent(m.component)} on the Stackmon dashboard at ${where.peer} is the component of ${m.services.length} services ` +
        `(${m.services.map(serviceKey).join(", ")}): each would undo what the other said, so nothing is sent for them; ` +
        `give each its own component in ${where.path}.components`
      )
    case "Many": {
      const apart = differing(m.candidates)
      return (
        `${m.candidates.length} components on the Stackmon dashboard at ${where.peer} match ${describeWanted(w)} for ${serviceKey(service)}: ` +
        `${m.candidates.map(describeComponent).join(", ")}; nothing is sent for it until one does` +
        (apart.length === 0
          ? ` (they differ in no attribute: the dashboard has duplicates)`
          : `: add ${apart.map((a) => `"${a}"`).join(" or ")} to ${where.path}.environments.${service.environment}`)
      )
    }
  }
}
