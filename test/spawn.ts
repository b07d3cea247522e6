/**
 * Running the built program as users do, against loopback servers, with
 * everything stopped after each test (the harness in demo/ does the
 * spawning; this adds the tests' bookkeeping).
 */
import type { ChildProcess } from "node:child_process"
import { createServer } from "node:net"
import { afterEach } from "vitest"
import { spawnReporter } from "../demo/harness.js"

export { configText, MAIN, memoryMiB, waitFor, writeConfig } from "../demo/harness.js"

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

/** The reporter, killed after `limitMs` (the test then fails with its output so far). */
export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, limitMs = 15_000) => {
  const p = spawnReporter(args, { env })
  children.add(p.child)
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      p.child.kill("SIGKILL")
      reject(new Error(`timed out; output so far:\n${p.output()}`))
    }, limitMs)
    void p.exited.then((code) => {
      clearTimeout(timer)
      children.delete(p.child)
      resolve({ code, output: p.output(), stdout: p.stdout(), stderr: p.stderr() })
    })
  })
  return { child: p.child, done, output: p.output, stderr: p.stderr }
}

/** Sends `signal` and waits for the exit: the run, and how long the stop took. */
export const stop = async (p: ReturnType<typeof start>, signal: NodeJS.Signals = "SIGTERM") => {
  const stoppedAt = Date.now()
  p.child.kill(signal)
  const result = await p.done
  return { result, tookMs: Date.now() - stoppedAt }
}

export const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => start(args, env).done

/** A port nobody listens on. */
export const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((r) => server.close(() => r()))
  return port
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
