// Reference 2, what a user could write in an afternoon: a fetch worker pool
// (`concurrency` in flight) that reads each service's health, takes the last
// datapoint, and POSTs each unhealthy one to the dashboard with an HS256 JWT
// (jose, as the reporter). No retries, budgets, validation or logging.
//   node bench/reference-fetch.mjs CONVERTOR DASHBOARD SECRET N CONCURRENCY CYCLES
import { SignJWT } from "jose"
import { runCycles } from "./reference-pool.mjs"

const [convertor, dashboard, secret] = process.argv.slice(2, 5)
const [n, concurrency, cycles] = process.argv.slice(5, 8).map(Number)
const key = new TextEncoder().encode(secret)
const one = async (i) => {
  const service = `svc${String(i).padStart(5, "0")}`
  const now = new Date()
  const q = new URLSearchParams({ service, environment: "production", from: new Date(now - 300_000).toISOString(), to: new Date(now - 120_000).toISOString() })
  const body = await (await fetch(`${convertor}/v1/health?${q}`)).json()
  const last = body.metrics.at(-1)
  if (!last || last.weight === 0) return
  const claims = { service, environment: "production", status: last.weight, timestamp: last.timestamp }
  const token = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key)
  const res = await fetch(`${dashboard}/api/incidents`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ ...claims, message: last.weight === 1 ? "Service degraded" : "Service outage", timestamp: new Date(last.timestamp * 1000).toISOString() })
  })
  await res.arrayBuffer()
}
await runCycles(n, concurrency, cycles, one)
