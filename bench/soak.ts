/**
 * `npm run soak -- --minutes M`: the daemon against the simulators for M
 * minutes, with a changing status mix, injected convertor and dashboard
 * faults, and a dashboard outage every five minutes. Samples RSS and
 * event-loop delay every cycle; fails if memory grows or a cycle overruns.
 */
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { type Behaviour, FAULTS, startConvertor, startDashboard } from "../demo/Simulator.js"
import { field, keys, launch, type LogLine, median, memoryMiB, SECRET, writeConfig } from "./common.js"

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    services: { type: "string", default: "300" },
    interval: { type: "string", default: "3" }
  }
})
const minutes = Number(values.minutes)
const n = Number(values.services)
const interval = Number(values.interval)

// A deterministic pseudo-random sequence, so two soak runs see the same weather.
let seed = 42
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)

const all = keys(n)
const convertor = await startConvertor({ services: Object.fromEntries(all.map((k) => [k, { status: 0 }])), latencyMs: 20 })
const dashboard = await startDashboard({ secret: SECRET })

const reshuffle = () => {
  for (const key of all) {
    const r = random()
    const behaviour: Behaviour =
      r < 0.03
        ? { fault: FAULTS[Math.floor(random() * FAULTS.length)]! }
        : r < 0.06
          ? "flapping"
          : r < 0.12
            ? { status: 2 }
            : r < 0.24
              ? { status: 1 }
              : { status: 0 }
    convertor.set(key, behaviour)
    const service = key.split("/")[0]!
    const dashboardFault = random() < 0.02 ? FAULTS[Math.floor(random() * FAULTS.length)] : undefined
    dashboard.setFault(service, dashboardFault)
  }
}
reshuffle()

interface Sample {
  readonly at: number
  readonly duration: number
  readonly failed: number
  readonly notified: number
  readonly rss: number
  readonly heap: number
  readonly loopP99: number
  readonly loopMax: number
}
const samples: Array<Sample> = []
let pendingCycle: LogLine | undefined
let errors = 0

const file = writeConfig({ convertor: convertor.url, dashboard: dashboard.url, services: all, interval, timeout: 1 })
const reporter = launch(
  ["--config", file],
  (line) => {
    if (line.level === "error") errors++
    if (line.message.startsWith("Cycle complete")) pendingCycle = line
    if (line.message.startsWith("Process stats") && pendingCycle) {
      samples.push({
        at: Date.now(),
        duration: pendingCycle["duration_seconds"] as number,
        failed: pendingCycle["failed"] as number,
        notified: pendingCycle["sent"] as number,
        rss: field(line.message, "rss_mb"),
        heap: field(line.message, "heap_used_mb"),
        loopP99: field(line.message, "event_loop_delay_p99_ms"),
        loopMax: field(line.message, "event_loop_delay_max_ms")
      })
      pendingCycle = undefined
      if (samples.length % 20 === 0) {
        const s = samples.at(-1)!
        console.log(
          `[soak] ${((Date.now() - reporter.launchedAt) / 60000).toFixed(1)} min: ${samples.length} cycles, ` +
            `last ${s.duration}s, rss ${s.rss} MB (VmRSS ${memoryMiB(reporter.child.pid!, "VmRSS").toFixed(1)}), heap ${s.heap} MB, ` +
            `loop p99 ${s.loopP99} ms, failed ${s.failed}, notified ${s.notified}`
        )
      }
    }
  },
  { LOG_LEVEL: "debug" }
)

// The weather changes every 20 s; the dashboard is down for 30 s every 5 minutes.
const weather = setInterval(reshuffle, 20_000)
let outages = 0
const outage = setInterval(() => {
  outages++
  dashboard.setFailWith(503)
  setTimeout(() => dashboard.setFailWith(undefined), 30_000)
}, 5 * 60_000)

await new Promise((r) => setTimeout(r, minutes * 60_000))
clearInterval(weather)
clearInterval(outage)
const peak = memoryMiB(reporter.child.pid!, "VmHWM")
const stoppedAt = Date.now()
reporter.child.kill("SIGTERM")
const code = await reporter.exited
const stopMs = Date.now() - stoppedAt
await Promise.all([convertor.close(), dashboard.close()])

// Memory: the median of the second tenth of the run (after warm-up) against the last tenth.
const tenth = Math.max(1, Math.floor(samples.length / 10))
const early = median(samples.slice(tenth, 2 * tenth).map((s) => s.rss))
const late = median(samples.slice(-tenth).map((s) => s.rss))
const earlyHeap = median(samples.slice(tenth, 2 * tenth).map((s) => s.heap))
const lateHeap = median(samples.slice(-tenth).map((s) => s.heap))
const overruns = samples.filter((s) => s.duration > interval)
const growth = late - early
const failures = [
  ...(overruns.length > 0 ? [`${overruns.length} cycle(s) overran the ${interval}s interval`] : []),
  ...(growth > 10 ? [`RSS grew by ${growth.toFixed(1)} MB`] : []),
  ...(code !== 0 ? [`exit code ${code} after SIGTERM`] : []),
  ...(samples.length < (minutes * 60) / interval / 2 ? [`only ${samples.length} cycles`] : [])
]

const report = `# Soak run

${new Date().toISOString()}, Node ${process.version}, ${minutes} min, ${n} services, poll_interval ${interval}s,
convertor latency 20 ms; status mix reshuffled every 20 s (about 3% convertor faults, 2% dashboard faults,
flapping, degraded, outage); dashboard answering 503 for 30 s every 5 min (${outages} times).

| measure | value |
| --- | --- |
| cycles | ${samples.length} |
| cycle duration median / max | ${median(samples.map((s) => s.duration))} s / ${Math.max(...samples.map((s) => s.duration))} s |
| cycles over the interval | ${overruns.length} |
| RSS (process.memoryUsage) second tenth / last tenth (medians) | ${early.toFixed(1)} MB / ${late.toFixed(1)} MB (growth ${growth.toFixed(1)} MB) |
| heap used second tenth / last tenth (medians) | ${earlyHeap.toFixed(1)} MB / ${lateHeap.toFixed(1)} MB |
| peak RSS (VmHWM) | ${peak.toFixed(1)} MB |
| event-loop delay p99, median of cycles / worst cycle | ${median(samples.map((s) => s.loopP99))} ms / ${Math.max(...samples.map((s) => s.loopP99))} ms |
| event-loop delay max, worst cycle | ${Math.max(...samples.map((s) => s.loopMax))} ms |
| notifications received by the dashboard | ${dashboard.incidents.length} |
| error lines logged | ${errors} |
| SIGTERM to exit | ${stopMs} ms, exit code ${code} |
| verdict | ${failures.length === 0 ? "PASS" : `FAIL: ${failures.join("; ")}`} |
`
console.log(report)
writeFileSync("bench/soak-results.md", report)
process.exit(failures.length === 0 ? 0 : 1)
