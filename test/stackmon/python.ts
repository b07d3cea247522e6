/**
 * A reference of the Python Status Dashboard's API v1 (stackmon/status-dashboard
 * @00f36f6), on loopback: mounted under `/api` (app/__init__.py:190), with
 * its rules as the source has them, each beside the line it mirrors
 * (`routes.py` is app/api/routes.py, `models.py` app/models.py):
 * the body checked before the token, an unknown component answered 500,
 * 409 for an equal or lower impact, one system incident per impact with no
 * lock between read and write (an injectable delay widens the window), and
 * no way to close. `GET /` is the web page, counted: its cache keeps what it
 * showed for 30 s (app/web/routes.py:41-43, default_settings.py:34).
 * Written from the source; none of its code is copied.
 */
import * as http from "node:http"
import { jwtVerify } from "jose"
import { type Answer, serve } from "./serve.js"

export interface PyComponent {
  readonly id: number
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly name: string; readonly value: string }>
}

export interface PyIncident {
  id: number
  text: string
  impact: number
  components: Array<number>
  start_date: number
  end_date?: number
  system: boolean
  updates: Array<{ status: string; text: string }>
}

export interface PyOptions {
  readonly components: ReadonlyArray<PyComponent>
  readonly secret: string
  readonly raceDelayMs?: number
  /** The server's clock against ours (negative: behind). */
  readonly clockOffsetMs?: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const startPythonDashboard = async (options: PyOptions) => {
  const incidents: Array<PyIncident> = []
  let nextId = 1
  let pageViews = 0

  /** find_by_name_and_attributes (models.py:138-166): the first of that name whose attributes include those given. */
  const find = (name: string, attributes: Record<string, string>) =>
    options.components.find((c) => c.name === name && Object.entries(attributes).every(([k, v]) => c.attributes.some((a) => a.name === k && a.value === v)))

  const open = (i: PyIncident) => i.end_date === undefined && i.start_date <= Date.now()
  /** get_active_m: open, impact not 0, not system (models.py:359-372); get_active: the system ones (models.py:375-388). */
  const activeByUser = () => incidents.filter((i) => open(i) && i.impact !== 0 && !i.system)
  const activeSystem = () => incidents.filter((i) => open(i) && i.impact !== 0 && i.system)
  /** get_active_maintenance: only the first one (models.py:330-346). */
  const maintenance = () => incidents.find((i) => i.impact === 0 && i.start_date <= Date.now() && (i.end_date === undefined || i.end_date > Date.now()))

  /** IncidentSchema, 201 (routes.py:277): dates as "%Y-%m-%d %H:%M" (schemas/components.py:35-41). */
  const show = (i: PyIncident) => ({
    id: i.id,
    text: i.text,
    impact: i.impact,
    start_date: new Date(i.start_date).toISOString().slice(0, 16).replace("T", " "),
    end_date: i.end_date === undefined ? null : new Date(i.end_date).toISOString().slice(0, 16).replace("T", " "),
    updates: i.updates
  })
  const created = (i: PyIncident): Answer => ({ status: 201, body: show(i) })

  /** create_new_incident: system, start now, no status update (routes.py:70-80). */
  const createNew = (componentId: number, impact: number, text: string) => {
    const i: PyIncident = { id: nextId++, text, impact, components: [componentId], start_date: Date.now(), system: true, updates: [] }
    incidents.push(i)
    return i
  }

  const conflict = (i: PyIncident, c: PyComponent): Answer => ({
    status: 409,
    body: {
      message: "Incident with this the component already exists",
      targetComponent: `${c.name} (${c.attributes.map((a) => a.value).join(", ")})`,
      existingIncidentId: i.id,
      existingIncidentTitle: i.text,
      details: "Check your request parameters"
    }
  })

  const authenticated = async (req: http.IncomingMessage) => {
    // HTTPTokenAuth "Bearer"; HS256 with SECRET_KEY; the `stackmon` claim truthy (authorization.py:47-61).
    const header = req.headers.authorization ?? ""
    if (!header.startsWith("Bearer ")) return false
    try {
      const { payload } = await jwtVerify(header.slice(7), new TextEncoder().encode(options.secret), { algorithms: ["HS256"] })
      // PyJWT (>= 2.6, requirements.txt) refuses an `iat` after its clock, with no leeway (authorization.py:55).
      if (typeof payload.iat === "number" && payload.iat > Math.floor((options.clockOffsetMs ?? 0) / 1000 + Date.now() / 1000)) return false
      return Boolean(payload["stackmon"])
    } catch {
      return false
    }
  }

  const post = async (req: http.IncomingMessage, text: string): Promise<Answer> => {
    // @bp.arguments is outermost: the body schema before the token (routes.py:275-277); flask-smorest answers 422.
    let b: Record<string, unknown>
    try {
      b = JSON.parse(text) as Record<string, unknown>
    } catch {
      return { status: 422, body: { code: 422, status: "Unprocessable Entity" } }
    }
    if (typeof b["name"] !== "string" || typeof b["impact"] !== "number" || !Number.isInteger(b["impact"])) {
      return { status: 422, body: { code: 422, errors: { json: { impact: ["Missing data for required field."] } }, status: "Unprocessable Entity" } }
    }
    if (!(await authenticated(req))) return { status: 401, body: { message: "Unauthorized" } }
    const impact = b["impact"]
    // INCIDENT_IMPACTS keys 0..3 (routes.py:325-328, default_settings.py:43-48).
    if (![0, 1, 2, 3].includes(impact)) return { status: 400, body: { message: "Incident impact is not allowed by configuration" } }
    const attributes = Object.fromEntries(((b["attributes"] as Array<{ name: string; value: string }> | undefined) ?? []).map((a) => [a.name, a.value]))
    const c = find(b["name"], attributes)
    // routes.py:337 reads target_component.name before the None check at 344: an unknown component is a 500.
    if (c === undefined) return { status: 500, body: "<!doctype html><title>500 Internal Server Error</title>" }
    const title = typeof b["text"] === "string" ? b["text"] : "Incident"
    const m = maintenance()
    if (m !== undefined && m.components.includes(c.id)) return created(m) // routes.py:348-356
    for (const i of activeByUser()) if (i.components.includes(c.id) && impact <= i.impact) return conflict(i, c) // routes.py:357-378
    // The read (routes.py:380), then the write below: no lock.
    const read = activeSystem()
    if (options.raceDelayMs) await sleep(options.raceDelayMs)
    if (read.length === 0) return created(createNew(c.id, impact, title)) // routes.py:380-383
    const holding = read.filter((i) => i.components.includes(c.id))
    const sameImpact = read.find((i) => i.impact === impact) // inc_by_impact, routes.py:38-42
    if (holding.length === 0) {
      if (sameImpact !== undefined) {
        // add_component_to_incident (routes.py:56-67).
        sameImpact.updates.push({ status: "SYSTEM", text: `${c.name} added to ${sameImpact.text}` })
        sameImpact.components.push(c.id)
        return created(sameImpact)
      }
      return created(createNew(c.id, impact, title))
    }
    for (const i of read) {
      if (!i.components.includes(c.id)) continue
      if (impact <= i.impact) return conflict(i, c) // routes.py:418-436
      // handling_incidents (routes.py:120-198).
      if (i.components.length === 1 && sameImpact !== undefined) {
        i.end_date = Date.now()
        sameImpact.components.push(c.id)
        i.updates.push({ status: "SYSTEM", text: "CLOSED BY SYSTEM" })
        return created(sameImpact)
      }
      if (i.components.length === 1) {
        i.updates.push({ status: "SYSTEM", text: `impact changed from ${i.impact} to ${impact}` })
        i.impact = impact
        return created(i)
      }
      i.components = i.components.filter((x) => x !== c.id)
      if (sameImpact !== undefined) {
        sameImpact.components.push(c.id)
        return created(sameImpact)
      }
      return created(createNew(c.id, impact, title))
    }
    return { status: 500, body: "unexpected" }
  }

  const route = async (req: http.IncomingMessage, text: string): Promise<Answer> => {
    const path = new URL(req.url ?? "/", "http://x").pathname
    if (req.method === "GET" && (path === "/" || path === "/index")) {
      pageViews++
      return { status: 200, body: "<html>All systems running</html>" }
    }
    // The blueprint's prefix is /api (app/__init__.py:190); these three are all of API v1.
    if (path === "/api/v1/component_status" && req.method === "GET") {
      // ComponentSchema: id, name, attributes, incidents (schemas/components.py:44-48).
      return { status: 200, body: options.components.map((c) => ({ ...c, incidents: incidents.filter((i) => i.components.includes(c.id)).map(show) })) }
    }
    if (path === "/api/v1/component_status" && req.method === "POST") return post(req, text)
    if (path === "/api/v1/incidents" && req.method === "GET") return { status: 200, body: incidents.map(show) }
    return { status: 404, body: "<!doctype html><title>404 Not Found</title>" }
  }

  const { url, seen, close } = await serve(route)
  return {
    url,
    incidents,
    seen,
    pageViews: () => pageViews,
    openFor: (componentId: number) => incidents.filter((i) => i.end_date === undefined && i.components.includes(componentId)),
    close
  }
}
