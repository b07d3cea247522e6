/**
 * `npm run demo`: the real reporter (dist/main.js, as a separate process)
 * against the loopback simulators. Ctrl-C stops everything.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { configText, writeConfig } from "./harness.js"
import { type Behaviour, startConvertor, startDashboard, startSlack } from "./Simulator.js"

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

// One message per cycle lists what changed: one line of output per line of the message.
const slack = await startSlack({ onMessage: (text) => console.log(text.split("\n").map((line) => `[slack] ${line}`).join("\n")) })

// The secret comes from MP_STATUS_DASHBOARD__SECRET, as it would in production; 2 s timeouts fit a 5 s interval.
// Two targets: the status dashboard, and a Slack channel (its webhook URL is a secret too: MP_NOTIFIERS__0__WEBHOOK_URL).
const configFile = writeConfig(
  configText({
    convertor: convertor.url,
    dashboard: dashboard.url,
    services: Object.keys(services),
    interval: 5,
    timeout: 2,
    notifiers: [{ type: "slack", name: "slack", timeout: "2" }]
  })
)

console.log(`[demo] convertor simulator at ${convertor.url}, dashboard simulator at ${dashboard.url}, Slack-like webhook simulator beside them`)
console.log("[demo] compute is degraded, storage is in outage, dns flaps; api and network are healthy. Ctrl-C stops.")

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "main.js")
const child = spawn(process.execPath, [main, "--config", configFile, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, MP_STATUS_DASHBOARD__SECRET: secret, MP_NOTIFIERS__0__WEBHOOK_URL: slack.url }
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
  await Promise.all([convertor.close(), dashboard.close(), slack.close()])
  rmSync(dirname(configFile), { recursive: true, force: true })
  console.log(`[demo] reporter exited with ${code ?? 0}; ${dashboard.incidents.length} notification(s) received, ${slack.messages.length} Slack message(s)`)
  process.exit(stopping ? 0 : (code ?? 0))
})
