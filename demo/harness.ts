/**
 * What the demo, the tests and the benchmarks share to run the real
 * reporter: one configuration writer, and the process helpers around a
 * spawned `dist/main.js`. Plain Node, like the simulators: fixtures, not the
 * product.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const MAIN = resolve("dist/main.js")

export interface ConfigOptions {
  readonly convertor: string
  readonly dashboard: string
  /** `name/environment` each. */
  readonly services: ReadonlyArray<string>
  /** Left out: the secret must come from the environment (MP_STATUS_DASHBOARD__SECRET). */
  readonly secret?: string
  readonly interval?: number
  /** For both peers; the default fits within the phase budget of the default 4 s interval. */
  readonly timeout?: number
  readonly concurrency?: number
  /** Further targets, each a mapping of keys (`{type: slack, webhook_url: …}`). */
  readonly notifiers?: ReadonlyArray<Record<string, unknown>>
  /** The top-level `notify:` for every target (`{failure_threshold: 1}`: every reading counts). */
  readonly notify?: Record<string, unknown>
}

/** A reporter configuration for loopback simulators, as YAML text. */
export const configText = (o: ConfigOptions): string =>
  [
    "convertor:",
    `  url: ${o.convertor}`,
    `  timeout: ${o.timeout ?? 1.5}`,
    "status_dashboard:",
    `  url: ${o.dashboard}`,
    ...(o.secret === undefined ? [] : [`  secret: ${o.secret}`]),
    `  timeout: ${o.timeout ?? 1.5}`,
    "reporter:",
    `  poll_interval: ${o.interval ?? 4}`,
    ...(o.concurrency === undefined ? [] : [`  concurrency: ${o.concurrency}`]),
    "  services:",
    ...o.services.map((k) => `    - { name: ${k.split("/")[0]}, environment: ${k.split("/")[1]} }`),
    ...(o.notifiers === undefined || o.notifiers.length === 0
      ? []
      : ["notifiers:", ...o.notifiers.map((n) => `  - { ${Object.entries(n).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} }`)]),
    ...(o.notify === undefined ? [] : [`notify: ${JSON.stringify(o.notify)}`]),
    ""
  ].join("\n")

/** Writes `text` as config.yaml in a new temporary directory, with conf.d fragments beside it; returns its path. */
export const writeConfig = (text: string, fragments: Record<string, string> = {}): string => {
  const dir = mkdtempSync(join(tmpdir(), "cmr-config-"))
  const file = join(dir, "config.yaml")
  writeFileSync(file, text)
  if (Object.keys(fragments).length > 0) mkdirSync(join(dir, "conf.d"))
  for (const [name, body] of Object.entries(fragments)) writeFileSync(join(dir, "conf.d", name), body)
  return file
}

export interface Spawned {
  readonly child: ReturnType<typeof spawn>
  readonly launchedAt: number
  /** Everything written so far, both streams interleaved. */
  readonly output: () => string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts the reporter with `args`; `onLine` sees every complete line of its standard error (its log). */
export const spawnReporter = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Record<string, string>
    readonly onLine?: (line: string) => void
    readonly main?: string
    readonly node?: string
    /** Node's own flags, before the script (as the image's command gives them). */
    readonly nodeArgs?: ReadonlyArray<string>
  } = {}
): Spawned => {
  const launchedAt = Date.now()
  const child = spawn(options.node ?? process.execPath, [...(options.nodeArgs ?? []), options.main ?? MAIN, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let output = ""
  let partial = ""
  child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), (output += d.toString())))
  child.stderr.on("data", (d: Buffer) => {
    const text = d.toString()
    stderr += text
    output += text
    if (options.onLine === undefined) return
    const lines = (partial + text).split("\n")
    partial = lines.pop()!
    for (const line of lines) options.onLine(line)
  })
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => setImmediate(() => r(code))))
  return { child, launchedAt, output: () => output, stdout: () => stdout, stderr: () => stderr, exited }
}

export const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
  const until = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A field of /proc/PID/status in MiB (VmRSS, VmHWM); NaN once the process is gone. */
export const memoryMiB = (pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number => {
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
