/** What the benchmark and the soak run share: spawning the built reporter and reading its JSON log. */
import { type ConfigOptions, configText, spawnReporter, writeConfig as writeConfigFile } from "../demo/harness.js"

export { cpuSeconds, MAIN, memoryMiB } from "../demo/harness.js"

export const SECRET = "benchmark-secret-benchmark-secret-0123456789"

export const keys = (n: number): ReadonlyArray<string> => Array.from({ length: n }, (_, i) => `svc${String(i).padStart(5, "0")}/production`)

/** A configuration for the simulators, with the benchmark's secret; 2 s timeouts unless told; `extra` YAML appended. */
export const writeConfig = (o: Omit<ConfigOptions, "secret">, extra = ""): string => writeConfigFile(configText({ timeout: 2, ...o, secret: SECRET }) + extra)

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly time: string
  readonly [key: string]: unknown
}

/** Starts `dist/main.js` with JSON logs, calling `onLine` for every JSON log line (anything else is passed through). */
/** Where the reporter runs: a node binary and its flags (this machine's Node as it is, or the image's with its command's flags). */
export interface Runtime {
  readonly name: string
  readonly node: string
  readonly flags: ReadonlyArray<string>
  /** Environment the command sets for Node (the image's command exports some). */
  readonly env?: Readonly<Record<string, string>>
}

export const launch = (args: ReadonlyArray<string>, onLine: (line: LogLine) => void, env: Record<string, string> = {}, runtime?: Runtime) =>
  spawnReporter([...args, "--log-format", "json"], {
    env: { ...runtime?.env, ...env },
    ...(runtime === undefined ? {} : { node: runtime.node, nodeArgs: runtime.flags }),
    onLine: (text) => (text.startsWith("{") ? onLine(JSON.parse(text) as LogLine) : void process.stderr.write(`${text}\n`))
  })

export const field = (message: string, name: string): number => Number(new RegExp(`${name}=([\\d.]+)`).exec(message)?.[1] ?? Number.NaN)

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
