/**
 * A reference of the Go Status Dashboard's API v2 (stackmon/status-dashboard-v3
 * @3b66092), on loopback, for what the reporter depends on. Each rule carries
 * the source line it mirrors (`v2.go` is internal/api/v2/v2.go, `db.go`
 * internal/db/db.go, `middleware.go` and `routes.go` internal/api/...);
 * docs/stackmon-servers.md has the reading. Reproduced as the server does
 * it, awkward parts included: one system incident per impact, a person's
 * incident answered as is, no lock between the read and the write (an
 * injectable delay widens the window), the old incident closed by the
 * target's component count (v2.go:626-629), auth before any lookup.
 * Written from the source; none of its code is copied.
 */
import * as http from "node:http"
import { jwtVerify } from "jose"
import { type Answer, serve } from "./serve.js"

export interface GoComponent {
  readonly id: number
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly name: string; readonly value: string }>
}

export interface GoIncident {
  id: number
  title: string
  description: string
  impact: number
  components: Array<number>
  start_date: string
  end_date?: string
  system: boolean
  type: "incident" | "maintenance" | "info"
  status: string
  updates: Array<{ status: string; text: string; timestamp: string }>
}

export interface GoOptions {
  /** Read at each request: a test may add one, as an admin would. */
  readonly components: ReadonlyArray<GoComponent>
  /** `SECRET_KEY`; undefined: `AUTHENTICATION_DISABLED` (middleware.go:82-86). */
  readonly secret?: string
  /** A pause between a POST's read of the open incidents and its write: the unlocked window (db.go:197-305). */
  readonly raceDelayMs?: number
  /** The server's clock. */
  readonly now?: () => number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Event statuses (internal/event/event.go:17-31). */
const OPEN_STATUSES = new Set(["detected", "analysing", "fixing", "impact changed", "observing", "resolved"])
const CLOSED_STATUSES = new Set(["reopened", "changed"])

export const startGoDashboard = async (options: GoOptions) => {
  const now = options.now ?? Date.now
  const iso = (ms = now()) => new Date(ms).toISOString()
  const incidents: Array<GoIncident> = []
  let nextId = 1
  const component = (id: number) => options.components.find((c) => c.id === id)

  /** "Active" (db.go:86-103): open, or within its dates and not resolved/completed/cancelled. */
  const active = (i: GoIncident) =>
    i.end_date === undefined || (Date.parse(i.start_date) <= now() && Date.parse(i.end_date) >= now() && !["resolved", "completed", "cancelled"].includes(i.status))

  /** The event object (v2.go:275-302): `end_date`, `description` omitempty. */
  const toApi = (i: GoIncident) => ({
    id: i.id,
    title: i.title,
    ...(i.description === "" ? {} : { description: i.description }),
    impact: i.impact,
    components: [...i.components],
    start_date: i.start_date,
    ...(i.end_date === undefined ? {} : { end_date: i.end_date }),
    system: i.system,
    type: i.type,
    ...(i.updates.length === 0 ? {} : { updates: i.updates.map((u, n) => ({ id: n + 1, ...u })) }),
    ...(i.status === "" ? {} : { status: i.status })
  })

  const create = (fields: Omit<GoIncident, "id" | "updates" | "status"> & { status?: string }, text?: string): GoIncident => {
    const incident: GoIncident = { ...fields, id: nextId++, status: fields.status ?? "", updates: [] }
    // New incidents get `detected` (createEvent, v2.go:885-934).
    if (incident.type === "incident" && fields.status === undefined) {
      incident.status = "detected"
      incident.updates.push({ status: "detected", text: text ?? "The incident is detected.", timestamp: incident.start_date })
    }
    incidents.push(incident)
    return incident
  }

  const err = (status: number, errMsg: string): Answer => ({ status, body: { errMsg } })

  /** AuthenticationMW (middleware.go:80-117): a missing header or a bad HS token is 401, before anything else. */
  const authenticated = async (req: http.IncomingMessage): Promise<boolean> => {
    if (options.secret === undefined) return true
    const header = req.headers.authorization
    if (header === undefined || header === "") return false
    try {
      await jwtVerify(header.replace(/^Bearer /, ""), new TextEncoder().encode(options.secret), { algorithms: ["HS256", "HS384", "HS512"] })
      return true
    } catch {
      return false
    }
  }

  /** processSystemIncidentComponent (v2.go:399-534), for one component. */
  const systemFor = async (c: GoComponent, data: { title: string; description: string; impact: number; start_date: string }) => {
    // getActiveEventsForComponent: active incidents and maintenances holding it (v2.go:420-427).
    const events = incidents.filter((i) => active(i) && (i.type === "incident" || i.type === "maintenance") && i.components.includes(c.id))
    // GetEvents orders by start_date DESC (db.go:120-148): the newest of an impact is the one joined.
    const systemIncidents = () =>
      incidents.filter((i) => active(i) && i.type === "incident" && i.system).sort((a, b) => Date.parse(b.start_date) - Date.parse(a.start_date) || b.id - a.id)
    if (events.length === 0) {
      // addComponentToSystemIncident (v2.go:537-599): read the open system incidents, then write. No lock.
      const read = systemIncidents()
      if (options.raceDelayMs) await sleep(options.raceDelayMs)
      const same = read.find((i) => i.impact === data.impact)
      if (same !== undefined) {
        same.components.push(c.id)
        same.updates.push({ status: same.status, text: `${c.name} added to the incident by system.`, timestamp: iso() })
        return { component_id: c.id, incident_id: same.id }
      }
      const created = create({ title: data.title, description: data.description, impact: data.impact, components: [c.id], start_date: data.start_date, system: true, type: "incident" })
      return { component_id: c.id, incident_id: created.id }
    }
    let firstSystem: GoIncident | undefined
    for (const e of events) {
      // Maintenance first: its id and an error, nothing created (v2.go:459-467).
      if (e.type === "maintenance") return { component_id: c.id, incident_id: e.id, error: "event creation failed, component in maintenance" }
      // A person's (non-system) incident: its id, no error, no change (v2.go:469-479).
      if (!e.system) return { component_id: c.id, incident_id: e.id }
      firstSystem ??= e
    }
    const old = firstSystem!
    // Equal or higher impact: its id, unchanged; a POST never lowers (v2.go:506-515).
    if (old.impact >= data.impact) return { component_id: c.id, incident_id: old.id }
    // moveComponentFromToSystemIncidents (v2.go:601-680).
    const read = systemIncidents()
    if (options.raceDelayMs) await sleep(options.raceDelayMs)
    const target = read.find((i) => i.impact === data.impact)
    if (target !== undefined) {
      // closeOld is decided by the *target's* component count (v2.go:626-629), as the server does.
      const closeOld = target.components.length === 1
      target.components.push(c.id)
      target.updates.push({ status: "SYSTEM", text: `${c.name} moved from ${old.title}`, timestamp: iso() })
      if (closeOld) {
        // The component is not removed from the closed old one (db.go:514-519); the old one is resolved.
        old.status = "resolved"
        old.end_date = iso()
        old.updates.push({ status: "resolved", text: `${c.name} moved to ${target.title}, Incident closed by system`, timestamp: iso() })
      } else {
        old.components = old.components.filter((id) => id !== c.id)
        old.updates.push({ status: "SYSTEM", text: `${c.name} moved to ${target.title}`, timestamp: iso() })
      }
      return { component_id: c.id, incident_id: target.id }
    }
    if (old.components.length === 1) {
      // IncreaseIncidentImpact in place (v2.go:644-654, db.go:611-627).
      old.updates.push({ status: "SYSTEM", text: `impact changed from ${old.impact} to ${data.impact}`, timestamp: iso() })
      old.impact = data.impact
      return { component_id: c.id, incident_id: old.id }
    }
    // Extract into a new incident, then marked system (v2.go:662-679).
    const moved = extractTo(old, [c.id], data.impact, data.title, data.description)
    moved.system = true
    return { component_id: c.id, incident_id: moved.id }
  }

  /** ExtractComponentsToNewIncident (db.go:538-609): a new non-system incident, start now, no `detected` status. */
  const extractTo = (from: GoIncident, ids: ReadonlyArray<number>, impact: number, title: string, description: string) => {
    const moved = create({ title, description, impact, components: [...ids], start_date: iso(), system: false, type: "incident", status: "" })
    for (const id of ids) moved.updates.push({ status: "SYSTEM", text: `${component(id)?.name} moved from ${from.title}`, timestamp: iso() })
    from.components = from.components.filter((id) => !ids.includes(id))
    for (const id of ids) from.updates.push({ status: "SYSTEM", text: `${component(id)?.name} moved to ${moved.title}`, timestamp: iso() })
    return moved
  }

  const postEvents = async (body: unknown): Promise<Answer> => {
    const b = body as Record<string, unknown>
    // ValidateComponentsMW: at least one component, each one existing (middleware.go:27, 39-50).
    const ids = Array.isArray(b?.["components"]) ? (b["components"] as Array<unknown>) : []
    if (ids.length === 0) return err(400, "components are required")
    for (const id of ids) if (typeof id !== "number" || component(id) === undefined) return err(400, `component does not exist, component_id: ${String(id)}`)
    // Binding (IncidentData, v2.go:28-53; v2.go:308-311).
    const impact = b["impact"]
    if (typeof b["title"] !== "string" || b["title"] === "") return err(400, "Key: 'IncidentData.Title' Error:Field validation for 'Title' failed on the 'required' tag")
    if (typeof impact !== "number" || !Number.isInteger(impact) || impact < 0 || impact > 3) return err(400, "Key: 'IncidentData.Impact' Error:Field validation failed")
    if (typeof b["start_date"] !== "string" || Number.isNaN(Date.parse(b["start_date"]))) return err(400, "Key: 'IncidentData.StartDate' Error:Field validation for 'StartDate' failed on the 'required' tag")
    const type = b["type"]
    if (type !== "maintenance" && type !== "info" && type !== "incident") return err(400, "Key: 'IncidentData.Type' Error:Field validation for 'Type' failed on the 'oneof' tag")
    if (Array.isArray(b["updates"]) && b["updates"].length > 0) return err(400, "updates should be empty") // v2.go:848-850
    // Type and impact agree (v2.go:855-865).
    if ((type !== "incident") !== (impact === 0)) return err(400, "impact must be 0 for type 'maintenance' or 'info' and gt 0 for 'incident'")
    if (type === "incident") {
      if (b["end_date"] !== undefined && b["end_date"] !== null) return err(400, "incident end_date should be empty") // v2.go:869-871
      // No tolerance: a start_date after the server's clock is refused (v2.go:873-876).
      if (Date.parse(b["start_date"] as string) > now()) return err(400, "event start_date should not be in the future")
    }
    const system = b["system"] === true
    const data = {
      title: b["title"] as string,
      description: typeof b["description"] === "string" ? (b["description"] as string) : "",
      impact,
      start_date: new Date(Date.parse(b["start_date"] as string)).toISOString()
    }
    if (system) {
      if (type !== "incident") return err(400, "system incident must be of type 'incident'") // v2.go:359-362
      if (data.description === "") data.description = "System-wide incident affecting multiple components. Created automatically." // v2.go:364-367
      const result = []
      for (const id of ids as Array<number>) result.push(await systemFor(component(id)!, data))
      return { status: 200, body: { result } } // v2.go:351: 200, not 201
    }
    // handleRegularIncidentCreation (v2.go:683-722): always a new incident; the components leave open incidents (v2.go:800-827).
    const created = create({ ...data, components: [...(ids as Array<number>)], system: false, type })
    if (impact > 0 && type === "incident") {
      for (const id of ids as Array<number>) {
        for (const old of incidents) {
          if (old === created || !active(old) || old.type !== "incident" || !old.components.includes(id)) continue
          if (old.components.length === 1) {
            old.status = "resolved"
            old.end_date = iso()
            old.updates.push({ status: "resolved", text: `${component(id)?.name} moved to ${created.title}, Incident closed by system`, timestamp: iso() })
          } else {
            old.components = old.components.filter((c) => c !== id)
          }
        }
      }
    }
    return { status: 200, body: { result: (ids as Array<number>).map((id) => ({ component_id: id, incident_id: created.id })) } }
  }

  /** PATCH /v2/events/{id} (v2.go:948-1128). */
  const patchEvent = (stored: GoIncident, body: unknown): Answer => {
    const b = body as Record<string, unknown>
    // PatchIncidentData: message, status, update_date required (v2.go:940-942).
    if (typeof b?.["message"] !== "string" || b["message"] === "" || typeof b["status"] !== "string" || b["status"] === "") return err(400, "Key: 'PatchIncidentData.Message' Error:Field validation failed on the 'required' tag")
    if (typeof b["update_date"] !== "string" || Number.isNaN(Date.parse(b["update_date"]))) return err(400, "Key: 'PatchIncidentData.UpdateDate' Error:Field validation failed on the 'required' tag")
    const status = b["status"]
    const impact = typeof b["impact"] === "number" ? b["impact"] : undefined
    const effectiveImpact = impact ?? stored.impact
    // Type and impact agree (v2.go:1009-1017, 1044-1050).
    if (stored.type === "incident" && effectiveImpact === 0) return err(400, "impact must be 0 for type 'maintenance' or 'info' and gt 0 for 'incident'")
    // Statuses of an incident (event.go:17-31, v2.go:1029-1033).
    if (stored.type === "incident" && !OPEN_STATUSES.has(status) && !CLOSED_STATUSES.has(status)) return err(400, "wrong status for incident")
    if (stored.type === "incident") {
      if (stored.end_date !== undefined) {
        // Closed: only reopened/changed, so not `resolved` again (v2.go:1064-1074).
        if (!CLOSED_STATUSES.has(status)) return err(400, "wrong status for closed incident")
      } else {
        // Open: a new impact needs `impact changed`, never 0; no start_date (v2.go:1076-1087).
        if (impact !== undefined && impact !== stored.impact && status !== "impact changed") return err(400, "to change impact the status must be 'impact changed'")
        if (b["start_date"] !== undefined) return err(400, "can not change start date for open incident")
      }
    }
    // updateFields (v2.go:1092-1128).
    if (typeof b["title"] === "string") stored.title = b["title"]
    if (impact !== undefined) stored.impact = impact
    stored.status = status
    const updateDate = new Date(Date.parse(b["update_date"] as string)).toISOString()
    if (status === "reopened") delete stored.end_date
    if (status === "resolved") stored.end_date = updateDate // v2.go:1125-1127
    stored.updates.push({ status, text: b["message"] as string, timestamp: updateDate })
    return { status: 200, body: toApi(stored) }
  }

  /** POST /v2/events/{id}/extract (v2.go:1130-1187). */
  const extractEvent = (stored: GoIncident, body: unknown): Answer => {
    const ids = (body as Record<string, unknown>)?.["components"]
    if (!Array.isArray(ids) || ids.length === 0) return err(400, "Key: 'PostIncidentSeparateData.Components' Error:Field validation failed on the 'required' tag")
    for (const id of ids) if (typeof id !== "number" || component(id) === undefined) return err(400, `component does not exist, component_id: ${String(id)}`) // routes.go:89
    for (const id of ids) if (!stored.components.includes(id)) return err(400, `component ${id} is not in the incident`) // v2.go:1153-1167
    if (ids.length === stored.components.length) return err(400, "can not move all components to the new incident, keep at least one") // v2.go:1169-1172
    // Same impact, title and description; not system; whether the source is open is not checked.
    return { status: 200, body: toApi(extractTo(stored, ids as Array<number>, stored.impact, stored.title, stored.description)) }
  }

  /** GET /v2/events (v2.go:60-250): filters, then pages of 10/20/50 (default 50), newest start first. */
  const listEvents = (query: URLSearchParams): Answer => {
    let found = [...incidents]
    const active_ = query.get("active")
    if (active_ !== null) {
      if (active_ !== "true") return err(400, "filter query parameter has an invalid format or value") // v2.go:99-104
      found = found.filter(active)
    }
    const types = query.get("type")
    if (types !== null) found = found.filter((i) => types.split(",").includes(i.type))
    const system = query.get("system")
    if (system !== null) found = found.filter((i) => i.system === (system === "true"))
    const components = query.get("components")
    // Ids 1..2048 only (validation.go:58-77).
    if (components !== null && components.split(",").some((id) => !/^\d+$/.test(id) || Number(id) < 1 || Number(id) > 2048)) {
      return err(400, "filter query parameter has an invalid format or value")
    }
    if (components !== null) found = found.filter((i) => components.split(",").some((id) => i.components.includes(Number(id))))
    const impact = query.get("impact")
    if (impact !== null) found = found.filter((i) => i.impact === Number(impact))
    const limit = Number(query.get("limit") ?? 50)
    if (![10, 20, 50].includes(limit)) return err(400, "filter query parameter has an invalid format or value") // validation.go:41-55
    const page = Number(query.get("page") ?? 1)
    found.sort((a, b) => Date.parse(b.start_date) - Date.parse(a.start_date) || b.id - a.id)
    // No match: `{"data":[]}`, no pagination (v2.go:207-214).
    if (found.length === 0) return { status: 200, body: { data: [] } }
    const data = found.slice((page - 1) * limit, page * limit).map(toApi)
    return { status: 200, body: { data, pagination: { pageIndex: page, recordsPerPage: limit, totalRecords: found.length, totalPages: Math.ceil(found.length / limit) } } }
  }

  const route = async (req: http.IncomingMessage, text: string): Promise<Answer> => {
    const url = new URL(req.url ?? "/", "http://x")
    const path = url.pathname
    const body = (() => {
      try {
        return text === "" ? undefined : (JSON.parse(text) as unknown)
      } catch {
        return undefined
      }
    })()
    // Routes at the root, no /api (routes.go:38).
    if (req.method === "GET" && path === "/v2/components") {
      // `name` and `attributes` omitempty (models.go:14-15).
      return { status: 200, body: options.components.map((c) => ({ id: c.id, ...(c.name === "" ? {} : { name: c.name }), ...(c.attributes.length === 0 ? {} : { attributes: c.attributes }) })) }
    }
    if (req.method === "GET" && path === "/v2/events") return listEvents(url.searchParams)
    const one = /^\/v2\/events\/([^/]+)(\/extract)?$/.exec(path)
    if (req.method === "GET" && one !== null && one[2] === undefined) {
      const i = incidents.find((x) => String(x.id) === one[1])
      return i === undefined ? err(404, "event does not exist") : { status: 200, body: toApi(i) }
    }
    const writes = (req.method === "POST" && path === "/v2/events") || (one !== null && ((req.method === "PATCH" && one[2] === undefined) || (req.method === "POST" && one[2] !== undefined)))
    if (!writes) return err(404, "page not found")
    // Auth runs first, before any lookup (routes.go:76-94; middleware.go:90-109).
    if (!(await authenticated(req))) return err(401, "not authenticated")
    if (path === "/v2/events") return postEvents(body)
    // CheckEventExistenceMW: id bound `required,gte=0`, so 0 (and a non-number) is 400; unknown, 404 (v2.go:25, middleware.go:167-176).
    const id = Number(one![1])
    if (!Number.isInteger(id) || id <= 0) return err(400, "Key: 'IncidentID.ID' Error:Field validation for 'ID' failed on the 'required' tag")
    const stored = incidents.find((x) => x.id === id)
    if (stored === undefined) return err(404, "event does not exist")
    return one![2] === undefined ? patchEvent(stored, body) : extractEvent(stored, body)
  }

  const { url, seen, close } = await serve(route)
  return {
    url,
    incidents,
    seen,
    /** An incident as a person (or a maintenance) would open it on the dashboard. */
    open: (fields: { impact: number; components: Array<number>; system?: boolean; type?: GoIncident["type"]; title?: string; end_date?: string }) =>
      create({ title: fields.title ?? "Opened by hand", description: "", impact: fields.impact, components: fields.components, start_date: iso(now() - 60_000), system: fields.system ?? false, type: fields.type ?? "incident", ...(fields.end_date === undefined ? {} : { end_date: fields.end_date }) }),
    /** The open incidents holding `component`. */
    openFor: (componentId: number) => incidents.filter((i) => i.end_date === undefined && i.components.includes(componentId)),
    writes: () => seen.filter((s) => s.method !== "GET"),
    close
  }
}

export type GoDashboard = Awaited<ReturnType<typeof startGoDashboard>>
