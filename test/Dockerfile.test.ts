/**
 * The image, proved without a Docker engine: its build stage replayed from
 * exactly what it copies, and its command run from exactly what the runtime
 * stage copies, on the image's own Node version.
 */
import { spawn, spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { isAbsolute, join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import pkg from "../package.json" with { type: "json" }
import { startConvertor, startDashboard } from "../demo/Simulator.js"
import { dockerfile, filesUnder, parseDockerfile, type Replayed, replay, which } from "./image.js"
import { cleanUpAfterEach, configText, SECRET, track } from "./spawn.js"

cleanUpAfterEach()

const LONG = 300_000

describe("the Dockerfile", () => {
  const stages = parseDockerfile(dockerfile())
  let image: Replayed

  beforeAll(() => {
    image = replay(stages)
  }, LONG)

  it("pins both stages to the same Node minor version, with no ENTRYPOINT and an unprivileged user", () => {
    expect(stages).toHaveLength(2)
    for (const stage of stages) expect(stage.base).toMatch(/^node:\d+\.\d+-slim$/)
    expect(new Set(stages.map((s) => s.base)).size).toBe(1)
    expect(image.runtime.entrypoint).toBeUndefined()
    expect(image.runtime.user).toBe("node")
  })

  it("ships the bundle, the bundled packages' licence notices and the command only: no source maps, no tools, no example configuration", () => {
    expect(filesUnder(image.runtime.root)).toEqual([
      "opt/cloudmon-metrics-reporter/THIRD_PARTY_NOTICES.txt",
      "opt/cloudmon-metrics-reporter/bin/cloudmon-metrics-reporter",
      "opt/cloudmon-metrics-reporter/main.js",
      "opt/cloudmon-metrics-reporter/package.json",
      "opt/cloudmon-metrics-reporter/wiring.js"
    ])
  })

  it("runs `cloudmon-metrics-reporter --version` from PATH, on the image's Node", () => {
    expect(image.runtime.cmd?.[0]).toBe("cloudmon-metrics-reporter")
    const command = which("cloudmon-metrics-reporter", image.runtime.env)
    expect(command).toBeDefined()
    const version = spawnSync(command!, ["--version"], { cwd: join(image.runtime.root, image.runtime.workdir), env: image.runtime.env, encoding: "utf8" })
    expect(version.stderr).toBe("")
    expect(version.stdout.trim()).toBe(pkg.version)
    const node = spawnSync("node", ["--version"], { env: image.runtime.env, encoding: "utf8" })
    expect(node.stdout.trim()).toMatch(new RegExp(`^v${stages[1]!.base.slice("node:".length).split("-")[0]!.replace(".", "\\.")}\\.`))
  })

  it("its CMD, as written, reads a configuration mounted at /config.yaml and reports (here with --once)", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 1 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    // The default mount point: /config.yaml, which is also the default --config from the image's WORKDIR.
    writeFileSync(join(image.runtime.root, "config.yaml"), configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET }))
    const [command, ...args] = image.runtime.cmd!
    // Absolute paths inside the image are under the replay's root.
    const mapped = args.map((a) => (isAbsolute(a) ? join(image.runtime.root, a) : a))
    for (const argv of [[...mapped, "--once"], ["--once"]]) {
      const child = spawn(which(command!, image.runtime.env)!, argv, { cwd: join(image.runtime.root, image.runtime.workdir), env: image.runtime.env })
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
      expect(code).toBe(0)
    }
    expect(dashboard.incidents.map((i) => i.body.service)).toEqual(["api", "api"])
  })

  it("fails when a COPY misses something the build needs", () => {
    const withoutScripts = stages.map((s) => ({ ...s, steps: s.steps.filter((step) => !(step.op === "COPY" && step.args.startsWith("scripts"))) }))
    expect(withoutScripts[0]!.steps.length).toBe(stages[0]!.steps.length - 1)
    expect(() => replay(withoutScripts.slice(0, 1))).toThrow(/RUN npm run build failed/)
  }, LONG)
})
