/**
 * `npm run bench`: the built reporter (dist/main.js, a separate process)
 * against loopback simulators, for N = 100, 1000 and 5000 services. Writes
 * bench/results.md. A measurement, not a test: it does not run in CI.
 *
 *   node dist/tools/bench.js [--latency-ms 20] [--sizes 100,1000,5000] [--growth-cycles 100]
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { DEFAULT_CONCURRENCY } from "../src/Config.js"
import { type Behaviour, type RunningConvertor, type RunningDashboard, startConvertor, startDashboard } from "../demo/Simulator.js"
import { cpuSeconds, keys, launch, MAIN, median, memoryMiB, SECRET, sleep, writeConfig } from "./common.js"

const { values } = parseArgs({
  options: {
    "latency-ms": { type: "string", default: "20" },
    sizes: { type: "string", default: "100,1000,5000" },
    "growth-cycles": { type: "string", default: "100" },
    concurrency: { type: "string" },
    out: { type: "string", default: "bench/results.md" }
  }
})
const latency = Number(values["latency-ms"])
const sizes = values.sizes.split(",").map(Number)
const growthCycles = Number(values["growth-cycles"])
const concurrency = values.concurrency ? Number(values.concurrency) : DEFAULT_CONCURRENCY

/** 80% healthy, 15% degraded, 5% outage: every sixth or so service is notified. */
const mix = (i: number): Behaviour => ({ status: i % 20 === 0 ? 2 : i % 7 === 0 ? 1 : 0 })

const world = async (n: number) => {
  const all = keys(n)
  const convertor = await startConvertor({ services: Object.fromEntries(all.map((k, i) => [k, mix(i)])), latencyMs: latency, shape: "datapoints" })
  const dashboard = await startDashboard({ secret: SECRET })
  const notifiedPerCycle = all.filter((_, i) => (mix(i) as { status: number }).status > 0).length
  return { all, convertor, dashboard, notifiedPerCycle }
}

/** First convertor request to last notification of cycle `k` (0-based), from the simulators' clocks. */
const cycleWall = (convertor: RunningConvertor, dashboard: RunningDashboard, n: number, perCycle: number, k: number): { wallMs: number } => {
  const first = convertor.requests[k * n]!.at
  const lastNotice = dashboard.incidents[(k + 1) * perCycle - 1]?.at ?? Number.NaN
  const lastRead = convertor.requests[(k + 1) * n - 1]!.at
  return { wallMs: Math.max(lastNotice, lastRead) - first }
}

const waitUntil = async (cond: () => boolean, ms: number, what: string) => {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error(`bench: gave up waiting for ${what}`)
    await sleep(5)
  }
}

interface SizeResult {
  readonly n: number
  readonly floorMs: number
  readonly wallMs: number
  readonly sequentialMs: number | undefined
  readonly cpuMsPerCycle: number
  readonly cpuUsPerRequest: number
  readonly peakMiB: number
  readonly steadyMiB: number
}

const measureSize = async (n: number): Promise<SizeResult> => {
  const w = await world(n)
  const floorMs = Math.ceil(n / concurrency) * latency
  // An interval comfortably longer than a cycle, so cycles never overlap.
  const interval = Math.max(1, Math.ceil((floorMs * 3) / 1000))
  const file = writeConfig({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.all, interval, concurrency })
  const cycleEnds: Array<number> = []
  const reporter = launch(["--config", file], (line) => {
    if (line.message.startsWith("Cycle complete")) cycleEnds.push(cpuSeconds(reporter.child.pid!))
  })
  const cycles = 10
  await waitUntil(() => cycleEnds.length >= cycles, (cycles + 2) * interval * 1000 + 30_000, `${cycles} cycles at N=${n}`)
  const steadyMiB = memoryMiB(reporter.child.pid!, "VmRSS")
  const peakMiB = memoryMiB(reporter.child.pid!, "VmHWM")
  reporter.child.kill("SIGTERM")
  await reporter.exited
  // Cycle 0 includes start-up and warm-up (JIT); the median of the rest is the steady figure.
  const walls = Array.from({ length: cycles - 1 }, (_, k) => cycleWall(w.convertor, w.dashboard, n, w.notifiedPerCycle, k + 1).wallMs)
  const cpu = cycleEnds.slice(1, cycles).map((c, i) => (c - cycleEnds[i]!) * 1000)
  await Promise.all([w.convertor.close(), w.dashboard.close()])

  // The sequential design of the upstream reporter: concurrency 1, one cycle.
  let sequentialMs: number | undefined
  if (n <= 5000) {
    const s = await world(n)
    const seqFile = writeConfig({ convertor: s.convertor.url, dashboard: s.dashboard.url, services: s.all, interval: 3600, concurrency: 1 })
    const once = launch(["--config", seqFile, "--once"], () => {})
    await once.exited
    sequentialMs = cycleWall(s.convertor, s.dashboard, n, s.notifiedPerCycle, 0).wallMs
    await Promise.all([s.convertor.close(), s.dashboard.close()])
  }
  const cpuMs = median(cpu)
  return { n, floorMs, wallMs: median(walls), sequentialMs, cpuMsPerCycle: cpuMs, cpuUsPerRequest: (cpuMs * 1000) / (n + w.notifiedPerCycle), peakMiB, steadyMiB }
}

/** RSS after cycle 10 and after cycle `growthCycles`, at N = 1000 and a 1 s interval. */
const measureGrowth = async () => {
  const n = 1000
  const w = await world(n)
  const file = writeConfig({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.all, interval: 1, concurrency })
  const rss: Array<number> = []
  const reporter = launch(["--config", file], (line) => {
    if (line.message.startsWith("Cycle complete")) rss.push(memoryMiB(reporter.child.pid!, "VmRSS"))
  })
  await waitUntil(() => rss.length >= growthCycles, growthCycles * 1500 + 30_000, `${growthCycles} cycles`)
  reporter.child.kill("SIGTERM")
  await reporter.exited
  await Promise.all([w.convertor.close(), w.dashboard.close()])
  const window = (from: number) => median(rss.slice(from, from + 10))
  return { at10: window(10), atEnd: window(rss.length - 10), max: Math.max(...rss), cycles: rss.length }
}

/** `--version`: wall time and peak RSS (GNU time), median of 7 runs. */
const measureVersion = () => {
  const samples: Array<[number, number]> = []
  for (let i = 0; i < 7; i++) {
    try {
      const r = execFileSync("sh", ["-c", `/usr/bin/time -f "%e %M" "${process.execPath}" "${MAIN}" --version 2>&1 >/dev/null`], { encoding: "utf8" })
      const [s, kb] = r.trim().split(/\s+/).slice(-2).map(Number) as [number, number]
      samples.push([s, kb / 1024])
    } catch {
      // GNU time missing: no figure rather than a wrong one
    }
  }
  return { seconds: median(samples.map((s) => s[0])), mib: median(samples.map((s) => s[1])) }
}

/** Launch to first convertor request, and idle RSS (10 services, between cycles). */
const measureStart = async () => {
  const results: Array<{ firstMs: number; idleMiB: number }> = []
  for (let i = 0; i < 5; i++) {
    const w = await world(10)
    const file = writeConfig({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.all, interval: 60 })
    let done = false
    const reporter = launch(["--config", file], (line) => {
      if (line.message.startsWith("Cycle complete")) done = true
    })
    await waitUntil(() => done, 10_000, "the first cycle")
    await sleep(1000)
    const idleMiB = memoryMiB(reporter.child.pid!, "VmRSS")
    const firstMs = w.convertor.requests[0]!.at - reporter.launchedAt
    reporter.child.kill("SIGTERM")
    await reporter.exited
    await Promise.all([w.convertor.close(), w.dashboard.close()])
    results.push({ firstMs, idleMiB })
  }
  return { firstMs: median(results.map((r) => r.firstMs)), idleMiB: median(results.map((r) => r.idleMiB)) }
}

const fmt = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(digits))
const mark = (ok: boolean) => (ok ? "yes" : "**no**")

console.log(`[bench] latency ${latency} ms, concurrency ${concurrency}, sizes ${sizes.join(", ")}`)
const version = measureVersion()
console.log(`[bench] --version: ${fmt(version.seconds, 2)} s, ${fmt(version.mib, 1)} MiB`)
const startup = await measureStart()
console.log(`[bench] first request ${fmt(startup.firstMs)} ms after launch; idle RSS ${fmt(startup.idleMiB, 1)} MiB`)
const bySize: Array<SizeResult> = []
for (const n of sizes) {
  const r = await measureSize(n)
  bySize.push(r)
  console.log(`[bench] N=${n}: ${JSON.stringify(r)}`)
}
const growth = growthCycles > 0 ? await measureGrowth() : undefined
if (growth) console.log(`[bench] growth: ${JSON.stringify(growth)}`)

const r1000 = bySize.find((r) => r.n === 1000)
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${(Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024 / 1024).toFixed(0)} GiB`
const report = `# Benchmark results

${new Date().toISOString()} · Node ${process.version} · ${machine}
Convertor latency ${latency} ms · default concurrency ${concurrency} · status mix 80% healthy, 15% degraded, 5% outage (about one notification per six services) · \`npm run bench\`

## Poll cycle

Wall time is the median of cycles 2-10, from the first convertor request to the last notification, read from the simulators' clocks. Floor = ceil(N / concurrency) × latency. CPU is the reporter process's user + system time per cycle (median), and per HTTP request (convertor reads plus notifications).

| N | floor | cycle wall | ratio to floor | concurrency 1 (one cycle) | speed-up | CPU per cycle | CPU per request | peak RSS (VmHWM) | RSS after 10 cycles |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${bySize
  .map(
    (r) =>
      `| ${r.n} | ${r.floorMs} ms | ${fmt(r.wallMs)} ms | ${fmt(r.wallMs / r.floorMs, 2)} | ${r.sequentialMs === undefined ? "not run" : `${fmt(r.sequentialMs)} ms`} | ${r.sequentialMs === undefined ? "n/a" : `${fmt(r.sequentialMs / r.wallMs, 1)}×`} | ${fmt(r.cpuMsPerCycle)} ms | ${fmt(r.cpuUsPerRequest)} µs | ${fmt(r.peakMiB, 1)} MiB | ${fmt(r.steadyMiB, 1)} MiB |`
  )
  .join("\n")}

## Start-up and memory over time

| measure | value | target | met |
| --- | --- | --- | --- |
| \`node dist/main.js --version\` wall (median of 7) | ${fmt(version.seconds, 2)} s | ≤ 0.3 s | ${mark(version.seconds <= 0.3)} |
| \`--version\` peak RSS | ${fmt(version.mib, 1)} MiB | | |
| launch to first convertor request (median of 5) | ${fmt(startup.firstMs)} ms | ≤ 500 ms | ${mark(startup.firstMs <= 500)} |
| idle RSS (10 services, between cycles) | ${fmt(startup.idleMiB, 1)} MiB | ≤ 60 MiB | ${mark(startup.idleMiB <= 60)} |
| 1000 services: cycle wall / floor | ${r1000 ? fmt(r1000.wallMs / r1000.floorMs, 2) : "n/a"} | ≤ 1.5 | ${r1000 ? mark(r1000.wallMs / r1000.floorMs <= 1.5) : "n/a"} |
| 1000 services: peak RSS | ${r1000 ? fmt(r1000.peakMiB, 1) : "n/a"} MiB | ≤ 80 MiB | ${r1000 ? mark(r1000.peakMiB <= 80) : "n/a"} |
${growth ? `| 1000 services, 1 s interval: RSS at cycles 10-20 / last 10 of ${growth.cycles} (medians) | ${fmt(growth.at10, 1)} / ${fmt(growth.atEnd, 1)} MiB (max ${fmt(growth.max, 1)}) | no growth | ${mark(growth.atEnd - growth.at10 <= 5)} |` : ""}
`
writeFileSync(values.out, report)
console.log(report)
