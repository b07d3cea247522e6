/**
 * `node dist/tools/simulator.js`: the simulators alone, to point a real reporter and
 * configuration at. Statuses come from --service name/env=STATUS arguments.
 */
import { parseArgs } from "node:util"
import { type Behaviour, startConvertor, startDashboard } from "./Simulator.js"

const usage = `usage: node dist/tools/simulator.js --secret S [--convertor-port 3005] [--dashboard-port 3000]
         [--latency-ms 20] [--service api/production=1 ...]   (0, 1, 2, flapping, no-data)`

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        secret: { type: "string" },
        "convertor-port": { type: "string", default: "3005" },
        "dashboard-port": { type: "string", default: "3000" },
        "latency-ms": { type: "string", default: "20" },
        service: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", default: false }
      }
    }).values
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`)
    process.exit(2)
  }
})()

if (parsed.help || !parsed.secret) {
  console.error(usage)
  process.exit(parsed.help ? 0 : 2)
}

const services: Record<string, Behaviour> = {}
for (const spec of parsed.service ?? []) {
  const [key, value] = spec.split("=")
  if (!key || !key.includes("/") || value === undefined) {
    console.error(`bad --service ${spec}: expected name/environment=STATUS\n${usage}`)
    process.exit(2)
  }
  services[key] = value === "flapping" || value === "no-data" ? value : { status: Number(value) }
}

const convertor = await startConvertor({ services, port: Number(parsed["convertor-port"]), latencyMs: Number(parsed["latency-ms"]) })
const dashboard = await startDashboard({
  secret: parsed.secret,
  port: Number(parsed["dashboard-port"]),
  onIncident: (i) => console.log(`[dashboard] ${JSON.stringify(i.body)}`)
})
console.log(`convertor simulator: ${convertor.url}\ndashboard simulator: ${dashboard.url}`)
const stop = () => void Promise.all([convertor.close(), dashboard.close()]).then(() => process.exit(0))
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
