/**
 * Loopback stand-ins for a CloudMon convertor and a generic status dashboard,
 * real HTTP servers for the demo, the black-box tests and anyone trying a
 * configuration. They speak the wire formats of docs/protocols.md §1 and §2.
 *
 * Plain node:http and promises on purpose: they are fixtures, not part of the
 * reporter, and must stay cheap enough to serve thousands of requests a second.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { jwtVerify } from "jose"

export type Shape = "datapoints" | "tuples" | "regions" | "flat"

/**
 * Ways a peer can misbehave, for fault-injection tests and the soak run.
 * (A refused connection is a whole server not listening: close it.)
 */
export const FAULTS = [
  "reset", // headers, part of the body, then a TCP reset
  "hang", // accepts, never answers
  "drip", // headers, then one byte every 200 ms, never finishing
  "http-503",
  "http-429", // with Retry-After: 1
  "invalid-json",
  "wrong-shape",
  "truncated", // Content-Length promises more than is sent
  "huge", // a 50 MB body
  "redirect-loop", // 302 to itself
  "not-http" // bytes that are not HTTP at all
] as const
export type Fault = (typeof FAULTS)[number]

/** A fixed status, one that alternates healthy/outage on every request, no data, or a fault. */
export type Behaviour = { readonly status: number } | "flapping" | "no-data" | { readonly fault: Fault }

const HUGE_BYTES = 50 * 1024 * 1024

/** Answers `res` the way `fault` says; used by both simulators. */
export const misbehave = (fault: Fault, req: http.IncomingMessage, res: http.ServerResponse): void => {
  const socket = res.socket
  switch (fault) {
    case "reset":
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
      res.write('{"service": "api", "status"', () => socket?.resetAndDestroy())
      return
    case "hang":
      return
    case "drip": {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
      const timer = setInterval(() => res.write(" "), 200)
      res.on("close", () => clearInterval(timer))
      return
    }
    case "http-503":
      return send(res, 503, { message: "Service Unavailable (simulated)" })
    case "http-429": {
      const text = JSON.stringify({ message: "Too Many Requests (simulated)" })
      res.writeHead(429, { "content-type": "application/json", "retry-after": "1", "content-length": Buffer.byteLength(text) })
      res.end(text)
      return
    }
    case "invalid-json":
      res.writeHead(200, { "content-type": "application/json" })
      res.end('{"status": 1, "service": ')
      return
    case "wrong-shape":
      return send(res, 200, { health: "bad", metrics: { a: 1 } })
    case "truncated":
      res.writeHead(200, { "content-type": "application/json", "content-length": "500" })
      res.write('{"service": "api", "environment": "production", "status": 1')
      socket?.end()
      return
    case "huge": {
      res.writeHead(200, { "content-type": "application/json" })
      const chunk = Buffer.alloc(64 * 1024, 32)
      let sent = 0
      const pump = () => {
        while (sent < HUGE_BYTES && !res.destroyed) {
          sent += chunk.length
          if (!res.write(chunk)) return void res.once("drain", pump)
        }
        if (!res.destroyed) res.end()
      }
      pump()
      return
    }
    case "redirect-loop":
      res.writeHead(302, { location: req.url ?? "/", "content-length": "0" })
      res.end()
      return
    case "not-http":
      socket?.end("SSH-2.0-OpenSSH_9.6 simulated\r\n")
      return
  }
}

export interface ConvertorOptions {
  /** Keyed by `service/environment`; anything else answers 404 like the upstream convertor. */
  readonly services: Record<string, Behaviour>
  readonly shape?: Shape | "mixed"
  readonly latencyMs?: number
  readonly host?: string
  readonly port?: number
}

export interface HealthRequest {
  readonly service: string
  readonly environment: string
  readonly from: string
  readonly to: string
  readonly at: number
}

export interface RunningConvertor {
  readonly url: string
  readonly requests: Array<HealthRequest>
  readonly set: (key: string, behaviour: Behaviour) => void
  readonly close: () => Promise<void>
}

const SHAPES: ReadonlyArray<Shape> = ["datapoints", "tuples", "regions", "flat"]

const listen = (server: http.Server, host: string, port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo
      resolve(`http://${host}:${address.port}`)
    })
  })

const closeServer = (server: http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

const send = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

export const healthBody = (service: string, environment: string, status: number | undefined, shape: Shape, now: number) => {
  const ts = Math.floor(now / 1000) - 120
  const points = status === undefined ? [] : [0, 0, status]
  switch (shape) {
    case "datapoints":
      return {
        name: service,
        service_category: "demo",
        environment,
        metrics: points.map((weight, i) => ({
          timestamp: ts - (points.length - 1 - i) * 60,
          weight,
          metric_states: {},
          matched_expression: weight > 0 ? `${service}.api_down || ${service}.api_slow` : null,
          triggered_metric_details:
            weight > 0 ? [{ name: `${service}.api_slow`, query: `stats.${service}.latency`, op: "gt", threshold: 500 }] : []
        }))
      }
    case "tuples":
      return { name: service, service_category: "demo", environment, metrics: points.map((w, i) => [ts - (points.length - 1 - i) * 60, w]) }
    case "regions":
      return {
        name: service,
        category: "demo",
        environment,
        metrics:
          status === undefined
            ? []
            : [
                { region: "eu-de", datapoints: [[ts, 0]] },
                { region: "eu-nl", datapoints: [[ts, status]] }
              ]
      }
    case "flat":
      return status === undefined ? { name: service, environment, metrics: [] } : { service, environment, status, timestamp: ts }
  }
}

export const startConvertor = async (options: ConvertorOptions): Promise<RunningConvertor> => {
  const services = new Map(Object.entries(options.services))
  const flips = new Map<string, number>()
  const requests: Array<HealthRequest> = []
  const keys = [...services.keys()]
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    if (req.method !== "GET" || url.pathname !== "/v1/health") return send(res, 404, { message: "Not found" })
    const service = url.searchParams.get("service") ?? ""
    const environment = url.searchParams.get("environment") ?? ""
    requests.push({ service, environment, from: url.searchParams.get("from") ?? "", to: url.searchParams.get("to") ?? "", at: Date.now() })
    const key = `${service}/${environment}`
    const behaviour = services.get(key)
    const answer = () => {
      if (behaviour === undefined) return send(res, 404, { message: "Service not supported" })
      if (typeof behaviour === "object" && "fault" in behaviour) return misbehave(behaviour.fault, req, res)
      let status: number | undefined
      if (behaviour === "no-data") status = undefined
      else if (behaviour === "flapping") {
        const n = (flips.get(key) ?? 0) + 1
        flips.set(key, n)
        status = n % 2 === 0 ? 0 : 2
      } else status = behaviour.status
      const shape = options.shape === undefined || options.shape === "mixed" ? SHAPES[Math.max(0, keys.indexOf(key)) % SHAPES.length]! : options.shape
      send(res, 200, healthBody(service, environment, status, shape, Date.now()))
    }
    if (options.latencyMs) setTimeout(answer, options.latencyMs)
    else answer()
  })
  server.keepAliveTimeout = 65_000
  const url = await listen(server, options.host ?? "127.0.0.1", options.port ?? 0)
  return { url, requests, set: (key, b) => void services.set(key, b), close: () => closeServer(server) }
}

export interface Incident {
  readonly body: { service: string; environment: string; status: number; message: string; timestamp: string }
  readonly claims: Record<string, unknown>
  readonly at: number
}

export interface DashboardOptions {
  readonly secret: string
  readonly host?: string
  readonly port?: number
  /** Answer every request with this status (for failure tests). */
  readonly failWith?: number
  /** Delay before answering, to have requests in flight. */
  readonly latencyMs?: number
  readonly onIncident?: (incident: Incident) => void
}

export interface RunningDashboard {
  readonly url: string
  readonly incidents: Array<Incident>
  /** Requests refused, with the reason the dashboard gave. */
  readonly rejected: Array<string>
  /** When each request arrived (before any latency). */
  readonly arrivals: Array<number>
  readonly setFailWith: (status: number | undefined) => void
  /** Misbehave for notifications about this service (undefined: behave). */
  readonly setFault: (service: string, fault: Fault | undefined) => void
  readonly close: () => Promise<void>
}

export const startDashboard = async (options: DashboardOptions): Promise<RunningDashboard> => {
  const key = new TextEncoder().encode(options.secret)
  const incidents: Array<Incident> = []
  const rejected: Array<string> = []
  const arrivals: Array<number> = []
  const faults = new Map<string, Fault>()
  let failWith = options.failWith
  const server = http.createServer((req, res) => {
    arrivals.push(Date.now())
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", async () => {
      if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs))
      if (req.method !== "POST" || req.url !== "/api/incidents") return send(res, 404, { message: "Not found" })
      if (failWith !== undefined) return send(res, failWith, { message: "Simulated failure" })
      const auth = req.headers.authorization ?? ""
      const token = auth.startsWith("Bearer ") ? auth.slice(7) : ""
      let claims: Record<string, unknown>
      try {
        claims = (await jwtVerify(token, key, { algorithms: ["HS256"] })).payload as Record<string, unknown>
      } catch {
        rejected.push("invalid token")
        return send(res, 401, { message: "Invalid token" })
      }
      let body: Incident["body"]
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Incident["body"]
      } catch {
        rejected.push("invalid JSON")
        return send(res, 400, { message: "Invalid JSON" })
      }
      const fault = faults.get(body.service)
      if (fault !== undefined) return misbehave(fault, req, res)
      if (claims["service"] !== body.service || claims["environment"] !== body.environment || claims["status"] !== body.status) {
        rejected.push("claims do not match body")
        return send(res, 400, { message: "Token claims do not match the body" })
      }
      const incident = { body, claims, at: Date.now() }
      incidents.push(incident)
      options.onIncident?.(incident)
      send(res, 201, { result: "created" })
    })
  })
  const url = await listen(server, options.host ?? "127.0.0.1", options.port ?? 0)
  return {
    url,
    incidents,
    rejected,
    arrivals,
    setFailWith: (s) => void (failWith = s),
    setFault: (service, fault) => void (fault === undefined ? faults.delete(service) : faults.set(service, fault)),
    close: () => closeServer(server)
  }
}

export interface RunningSlack {
  /** The webhook URL to configure (`webhook_url`). */
  readonly url: string
  readonly messages: Array<string>
  readonly close: () => Promise<void>
}

/** A Slack-like incoming webhook: takes `{"text": ...}` at /services/…, answers `ok` as Slack does. */
export const startSlack = async (options: { readonly onMessage?: (text: string) => void; readonly port?: number } = {}): Promise<RunningSlack> => {
  const messages: Array<string> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      let text: unknown
      try {
        text = (JSON.parse(body) as { text?: unknown }).text
      } catch {
        text = undefined
      }
      if (req.method !== "POST" || !req.url?.startsWith("/services/") || typeof text !== "string") {
        res.writeHead(400, { "content-type": "text/plain" })
        return void res.end("invalid_payload")
      }
      messages.push(text)
      options.onMessage?.(text)
      res.writeHead(200, { "content-type": "text/plain" })
      res.end("ok")
    })
  })
  const base = await listen(server, "127.0.0.1", options.port ?? 0)
  return { url: `${base}/services/T000DEMO/B000DEMO/demo-webhook-token`, messages, close: () => closeServer(server) }
}
