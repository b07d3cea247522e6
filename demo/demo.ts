/**
 * `npm run demo`: the real reporter (dist/main.js, as a separate process)
 * against the loopback simulators. Ctrl-C stops everything.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Behaviour, startConvertor, startDashboard } from "./Simulator.js"

const services: Record<string, Behaviour> = {
  "api/production": { status: 0 },
  "compute/production": { status: 1 },
  "storage/production": { status: 2 },
  "dns/production": "flapping",
  "network/staging": { status: 0 }
}

const secret = randomBytes(32).toString("base64url")
const convertor = await startConvertor({ services, latencyMs: 20 })
const dashboard = await startDashboard({
  secret,
  onIncident: (i) =>
    console.log(
      `[dashboard] verified JWT, received: ${i.body.service}/${i.body.environment} status=${i.body.status} "${i.body.message}" at ${i.body.timestamp}`
    )
})

const dir = mkdtempSync(join(tmpdir(), "cloudmon-demo-"))
const configFile = join(dir, "config.yaml")
writeFileSync(
  configFile,
  [
    "convertor:",
    `  url: ${convertor.url}`,
    "  timeout: 2",
    "status_dashboard:",
    `  url: ${dashboard.url}`,
    "  timeout: 2",
    "  # the secret comes from MP_STATUS_DASHBOARD__SECRET, as it would in production",
    "reporter:",
    "  poll_interval: 5",
    "  services:",
    ...Object.keys(services).map((k) => `    - { name: ${k.split("/")[0]}, environment: ${k.split("/")[1]} }`),
    ""
  ].join("\n")
)

console.log(`[demo] convertor simulator at ${convertor.url}, dashboard simulator at ${dashboard.url}`)
console.log("[demo] compute is degraded, storage is in outage, dns flaps; api and network are healthy. Ctrl-C stops.")

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "main.js")
const child = spawn(process.execPath, [main, "--config", configFile, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, MP_STATUS_DASHBOARD__SECRET: secret }
})

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  child.kill("SIGTERM")
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
child.on("exit", async (code) => {
  await Promise.all([convertor.close(), dashboard.close()])
  rmSync(dir, { recursive: true, force: true })
  console.log(`[demo] reporter exited with ${code ?? 0}; ${dashboard.incidents.length} notification(s) received`)
  process.exit(stopping ? 0 : (code ?? 0))
})
