// Reference 1, the floor: a bare node:http keep-alive client that GETs every
// service's health, `concurrency` in flight, no parsing, no logic. Prints one
// JSON line: per-cycle wall times, CPU per cycle, peak RSS.
//   node bench/reference-bare.mjs URL N CONCURRENCY CYCLES
import http from "node:http"
import { runCycles } from "./reference-pool.mjs"

const [base, n, concurrency, cycles] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])]
const agent = new http.Agent({ keepAlive: true })
const get = (i) =>
  new Promise((resolve, reject) => {
    const url = `${base}/v1/health?service=svc${String(i).padStart(5, "0")}&environment=production&from=2024-01-20T12:00:00Z&to=2024-01-20T12:03:00Z`
    http.get(url, { agent }, (res) => (res.resume(), res.on("end", resolve))).on("error", reject)
  })
await runCycles(n, concurrency, cycles, get)
agent.destroy()
