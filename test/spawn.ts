/**
 * Running the built program as users do, against loopback servers, with
 * everything stopped after each test.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterEach } from "vitest"

export const MAIN = resolve("dist/main.js")
export const SECRET = "black-box-secret-black-box-secret-0123456789"

export interface Run {
  readonly code: number | null
  readonly output: string
  readonly stdout: string
  readonly stderr: string
}

const children = new Set<ChildProcess>()
const servers: Array<{ close: () => Promise<void> }> = []

/** Registers `afterEach` cleanup of children and servers in the calling test file. */
export const cleanUpAfterEach = () =>
  afterEach(async () => {
    for (const child of children) child.kill("SIGKILL")
    children.clear()
    await Promise.all(servers.splice(0).map((s) => s.close()))
  })

export const track = <S extends { close: () => Promise<void> }>(server: S): S => {
  servers.push(server)
  return server
}

export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, limitMs = 15_000) => {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  let stdout = ""
  let stderr = ""
  let output = ""
  child.stdout!.on("data", (d: Buffer) => ((stdout += d.toString()), (output += d.toString())))
  child.stderr!.on("data", (d: Buffer) => ((stderr += d.toString()), (output += d.toString())))
  const done = new Promise<Run>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`timed out; output so far:\n${output}`))
    }, limitMs)
    child.on("exit", (code) => {
      clearTimeout(timer)
      children.delete(child)
      // Let the pipes drain.
      setImmediate(() => resolvePromise({ code, output, stdout, stderr }))
    })
  })
  return { child, done, output: () => output, stderr: () => stderr }
}

/** Sends `signal` and waits for the exit: the run, and how long the stop took. */
export const stop = async (p: ReturnType<typeof start>, signal: NodeJS.Signals = "SIGTERM") => {
  const stoppedAt = Date.now()
  p.child.kill(signal)
  const result = await p.done
  return { result, tookMs: Date.now() - stoppedAt }
}

export const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => start(args, env).done

export const waitFor = async (what: string, cond: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const writeConfig = (text: string, fragments: Record<string, string> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "cmr-bb-"))
  const file = join(dir, "config.yaml")
  writeFileSync(file, text)
  if (Object.keys(fragments).length > 0) mkdirSync(join(dir, "conf.d"))
  for (const [name, body] of Object.entries(fragments)) writeFileSync(join(dir, "conf.d", name), body)
  return file
}

export const configText = (o: {
  convertor: string
  dashboard: string
  services: ReadonlyArray<string>
  secret?: string
  interval?: number
  timeout?: number
}) =>
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
    "  services:",
    ...o.services.map((k) => `    - { name: ${k.split("/")[0]}, environment: ${k.split("/")[1]} }`),
    ""
  ].join("\n")

/** A port nobody listens on. */
export const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((r) => server.close(() => r()))
  return port
}

/** A field of /proc/PID/status in MiB (VmRSS, VmHWM). */
export const memoryMiB = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return match ? Number(match[1]) / 1024 : Number.NaN
}

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly [key: string]: unknown
}

/** The JSON log lines so far (--log-format json). */
export const jsonLines = (stderr: string): ReadonlyArray<LogLine> =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine)
