/**
 * Fakes of the three notifier services as their owners document them, for
 * `fakeHttp` (each is a function from a request to an answer, with its own
 * state, on the test's clock). Each rule cites the document it follows:
 * - Statuspage: the API reference at developer.statuspage.io ("Components":
 *   get and update a component, `status` one of operational,
 *   under_maintenance, degraded_performance, partial_outage, major_outage;
 *   "Incidents": list unresolved incidents, each with its `components`;
 *   `Authorization: OAuth <key>`; 401 for a bad key, 404 for an unknown id).
 * - Slack incoming webhooks: 200 `ok`; errors as plain-text codes, per
 *   api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
 *   (400 invalid_payload, 403 action_prohibited, 404 channel_not_found,
 *   410 channel_is_archived).
 * - PagerDuty Events API v2: PagerDuty/developer-docs docs/events-API-v2/
 *   (developer-docs:docs/events-API-v2/01-Overview.md:66-72 response codes; developer-docs:docs/events-API-v2/02-Trigger-Events.md:19-20 the
 *   255 and 1024 character limits; developer-docs:docs/events-API-v2/05-Rate-Limits.md:12 about 120 events a
 *   minute per integration key, over a window looking back 60 s, then 429)
 *   and PagerDuty/api-schema reference/events-v2/openapiv3.json (202
 *   `{status, message, dedup_key}`; errors `{status, message, errors[]}`).
 */
import type { Answer, Recorded } from "../helpers.js"
import { json, text } from "../helpers.js"

type Handler = (req: Recorded) => Answer

// ---------------------------------------------------------------- Statuspage

export type ComponentStatus = "operational" | "under_maintenance" | "degraded_performance" | "partial_outage" | "major_outage"
const STATUSES: ReadonlyArray<string> = ["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]

export const statuspage = (o: { readonly key: string; readonly page: string; readonly components: Record<string, ComponentStatus> }) => {
  const components = { ...o.components }
  const incidents: Array<{ id: string; name: string; components: Array<{ id: string }> }> = []
  const handle: Handler = (req) => {
    if (req.headers["authorization"] !== `OAuth ${o.key}`) return json(401, { error: "Could not authenticate" })
    const path = req.url.pathname
    const prefix = `/v1/pages/${o.page}`
    if (!path.startsWith(prefix)) return json(404, { error: "Not found" })
    const rest = path.slice(prefix.length)
    if (req.method === "GET" && rest === "/incidents/unresolved") return json(200, incidents)
    const m = /^\/components\/([^/]+)$/.exec(rest)
    if (m === null || components[m[1]!] === undefined) return json(404, { error: "Not found" })
    const id = m[1]!
    if (req.method === "GET") return json(200, { id, page_id: o.page, name: id, status: components[id] })
    if (req.method === "PATCH") {
      const status = (JSON.parse(req.body) as { component?: { status?: string } }).component?.status
      if (status === undefined || !STATUSES.includes(status)) return json(422, { error: "Status is not included in the list" })
      components[id] = status as ComponentStatus
      return json(200, { id, page_id: o.page, status })
    }
    return json(405, { error: "Method not allowed" })
  }
  return {
    handle,
    components,
    /** An operator's incident on the page, holding these components. */
    openIncident: (id: string, name: string, ids: ReadonlyArray<string>) => void incidents.push({ id, name, components: ids.map((c) => ({ id: c })) })
  }
}

// ---------------------------------------------------------------- Slack

/** What the webhook answers now: `ok`, or one of the documented error codes. */
export type SlackState = "ok" | "invalid_payload" | "action_prohibited" | "channel_not_found" | "channel_is_archived"
const SLACK_STATUS: Record<SlackState, number> = { ok: 200, invalid_payload: 400, action_prohibited: 403, channel_not_found: 404, channel_is_archived: 410 }

export const slack = (initial: SlackState = "ok") => {
  const state = { now: initial }
  const messages: Array<string> = []
  const handle: Handler = (req) => {
    let body: { text?: unknown }
    try {
      body = JSON.parse(req.body) as { text?: unknown }
    } catch {
      return text(400, "invalid_payload")
    }
    if (state.now !== "ok") return text(SLACK_STATUS[state.now], state.now)
    if (typeof body.text !== "string") return text(400, "invalid_payload")
    messages.push(body.text)
    return text(200, "ok")
  }
  return { handle, messages, set: (s: SlackState) => void (state.now = s) }
}

// ---------------------------------------------------------------- PagerDuty

export const pagerduty = (o: { readonly now: () => number; readonly limitPerMinute?: number }) => {
  const limit = o.limitPerMinute ?? 120
  const arrivals = new Map<string, Array<number>>()
  /** Open alerts, by routing key and dedup_key: a key is its own integration. */
  const open = new Map<string, Record<string, unknown>>()
  const events: Array<Record<string, unknown>> = []
  const invalid = (...errors: Array<string>) => json(400, { status: "invalid event", message: "Event object is invalid", errors })
  const handle: Handler = (req) => {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(req.body) as Record<string, unknown>
    } catch {
      return json(400, { status: "Unrecognized object", message: "Event object format is unrecognized", errors: ["JSON parse error"] })
    }
    const key = String(e["routing_key"] ?? "")
    if (key.length !== 32) return invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
    // About 120 a minute per integration key, over the 60 s looking back (developer-docs:docs/events-API-v2/05-Rate-Limits.md:12).
    const now = o.now()
    const recent = (arrivals.get(key) ?? []).filter((t) => t > now - 60_000)
    if (recent.length >= limit) return json(429, { status: "throttle exceeded", message: "Requests for this service are arriving too quickly.  Please retry later." })
    arrivals.set(key, [...recent, now])
    const dedup = String(e["dedup_key"] ?? "")
    if (dedup.length > 255) return invalid("'dedup_key' is too long (maximum is 255 characters)")
    const action = e["event_action"]
    if (action === "trigger") {
      const payload = e["payload"] as Record<string, unknown> | undefined
      const summary = payload?.["summary"]
      if (typeof summary !== "string" || summary.length > 1024) return invalid("'payload.summary' is missing or longer than 1024 characters")
      if (!["critical", "error", "warning", "info"].includes(String(payload?.["severity"]))) return invalid("'payload.severity' is invalid")
      if (typeof payload?.["source"] !== "string") return invalid("'payload.source' is missing")
      open.set(`${key} ${dedup}`, e)
    } else if (action === "resolve") {
      open.delete(`${key} ${dedup}`)
    } else if (action !== "acknowledge") {
      return invalid("'event_action' is invalid")
    }
    events.push(e)
    return json(202, { status: "success", message: "Event processed", dedup_key: dedup })
  }
  return { handle, events, open, arrivals: () => [...arrivals.values()].flat().length }
}
