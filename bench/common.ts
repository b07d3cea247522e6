/** What the benchmark and the soak run share: spawning the built reporter and reading its JSON log. */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"

export const MAIN = resolve("dist/main.js")
export const SECRET = "benchmark-secret-benchmark-secret-0123456789"

export const keys = (n: number): ReadonlyArray<string> => Array.from({ length: n }, (_, i) => `svc${String(i).padStart(5, "0")}/production`)

export const writeConfig = (o: {
  convertor: string
  dashboard: string
  services: ReadonlyArray<string>
  interval: number
  concurrency?: number
  timeout?: number
}): string => {
  const dir = mkdtempSync(join(tmpdir(), "cmr-bench-"))
  const file = join(dir, "config.yaml")
  writeFileSync(
    file,
    [
      "convertor:",
      `  url: ${o.convertor}`,
      `  timeout: ${o.timeout ?? 2}`,
      "status_dashboard:",
      `  url: ${o.dashboard}`,
      `  secret: ${SECRET}`,
      `  timeout: ${o.timeout ?? 2}`,
      "reporter:",
      `  poll_interval: ${o.interval}`,
      ...(o.concurrency === undefined ? [] : [`  concurrency: ${o.concurrency}`]),
      "  services:",
      ...o.services.map((k) => `    - {name: ${k.split("/")[0]}, environment: ${k.split("/")[1]}}`),
      ""
    ].join("\n")
  )
  return file
}

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly time: string
  readonly [key: string]: unknown
}

/** Starts `dist/main.js`, calling `onLine` for every JSON log line. */
export const launch = (args: ReadonlyArray<string>, onLine: (line: LogLine) => void, env: Record<string, string> = {}) => {
  const launchedAt = Date.now()
  const child = spawn(process.execPath, [MAIN, ...args, "--log-format", "json"], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "inherit", "pipe"]
  })
  createInterface({ input: child.stderr! }).on("line", (text) => {
    if (!text.startsWith("{")) return void process.stderr.write(`${text}\n`)
    onLine(JSON.parse(text) as LogLine)
  })
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  return { child, launchedAt, exited }
}

/** A /proc/PID/status field in MiB. */
export const memoryMiB = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** User + system CPU seconds of a process so far (/proc/PID/stat). */
export const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

export const field = (message: string, name: string): number => Number(new RegExp(`${name}=([\\d.]+)`).exec(message)?.[1] ?? Number.NaN)

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
