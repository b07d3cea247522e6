/**
 * The npm package as users get it: packed from the tracked files alone (as
 * from a clean clone), installed globally from the tarball, run by name.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import pkg from "../package.json" with { type: "json" }
import { startConvertor, startDashboard } from "../demo/Simulator.js"
import { REPO } from "./image.js"
import { cleanUpAfterEach, configText, SECRET, track, writeConfig } from "./spawn.js"

cleanUpAfterEach()

/** The repository's tracked files, as a clean clone has them, with this checkout's node_modules for the build. */
const cleanCopy = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "cmr-clone-"))
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: REPO, encoding: "utf8" }).split("\0").filter((f) => f !== "")
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    copyFileSync(join(REPO, file), join(dir, file))
    chmodSync(join(dir, file), statSync(join(REPO, file)).mode)
  }
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"))
  return dir
}

describe("npm pack and a global install", () => {
  let packed: { readonly tarball: string; readonly files: ReadonlyArray<string> }
  let prefix: string
  let installLog: string

  beforeAll(() => {
    const clone = cleanCopy()
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", clone], { cwd: clone, encoding: "utf8" })
    const [info] = JSON.parse(out.slice(out.indexOf("["))) as ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }>
    packed = { tarball: join(clone, info!.filename), files: info!.files.map((f) => f.path).sort() }
    prefix = mkdtempSync(join(tmpdir(), "cmr-global-"))
    const install = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", packed.tarball], { encoding: "utf8" })
    installLog = install.stdout + install.stderr
    expect(install.status, installLog).toBe(0)
  }, 120_000)

  it("packs the bundle (built by prepack from a clean clone), the licences (ours, and the bundled packages') and the README, nothing else", () => {
    expect(packed.files).toEqual(["LICENSE", "README.md", "dist/THIRD_PARTY_NOTICES.txt", "dist/main.js", "dist/package.json", "dist/wiring.js", "package.json"])
  })

  it("carries the licence notice of every package the bundle holds", () => {
    const notices = readFileSync(join(prefix, "lib", "node_modules", "cloudmon-metrics-reporter", "dist", "THIRD_PARTY_NOTICES.txt"), "utf8")
    const sections = notices.split(/\n-{72}\n/)
    for (const name of ["effect", "@effect/cli", "@effect/platform-node", "jose", "yaml", "prom-client"]) {
      expect(sections.some((s) => new RegExp(`^(.*\\n\\n)?${name.replace("/", "\\/")} \\d`).test(s.trimStart())), name).toBe(true)
    }
    // Each with its licence's own text (MIT and ISC ask for the notice itself, not only its name).
    for (const section of sections) expect(section, section.slice(0, 80)).toMatch(/Permission|Licensed under|THE SOFTWARE IS PROVIDED|Apache License/i)
  })

  it("installs as one package: the bundle carries its dependencies, nothing is downloaded", () => {
    expect(installLog).toMatch(/added 1 package/)
    expect(pkg).not.toHaveProperty("dependencies")
  })

  it("runs `cloudmon-metrics-reporter --version` and a --once cycle by name", async () => {
    const bin = join(prefix, "bin", "cloudmon-metrics-reporter")
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" })
    expect(version.stdout.trim()).toBe(pkg.version)
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET }))
    // Not spawnSync: the simulators answer from this process's event loop.
    const child = spawn(bin, ["--config", file, "--once"], { stdio: "ignore" })
    expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(0)
    expect(dashboard.incidents.map((i) => [i.body.service, i.body.status])).toEqual([["api", 2]])
  })
})

describe("a quiet, correct npm ci", () => {
  it("allowScripts decides about every installed package that has an install script", () => {
    const withScripts = new Set<string>()
    const visit = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || entry.name.startsWith(".")) continue
        const path = join(dir, entry.name)
        if (entry.name.startsWith("@")) {
          visit(path)
          continue
        }
        const manifest = join(path, "package.json")
        if (existsSync(manifest)) {
          const p = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; scripts?: Record<string, string> }
          if (p.name && ["preinstall", "install", "postinstall"].some((s) => p.scripts?.[s] !== undefined)) withScripts.add(p.name)
        }
        if (existsSync(join(path, "node_modules"))) visit(join(path, "node_modules"))
      }
    }
    visit(join(REPO, "node_modules"))
    expect(withScripts.size).toBeGreaterThan(0)
    expect([...withScripts].sort()).toEqual(Object.keys(pkg.allowScripts).sort())
  })
})
