/** `npm run demo` as a newcomer runs it: degraded services reported within seconds, Ctrl-C stops everything. */
import { spawn } from "node:child_process"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { waitFor } from "./spawn.js"

describe("the demo", () => {
  it("reports the degraded and outage services to two targets, the dashboard (JWT-verified) and Slack, and exits 0 on Ctrl-C", async () => {
    // Its own process group: whatever happens, the demo and the reporter it starts are stopped together.
    const child = spawn(process.execPath, [resolve("dist/tools/demo.js")], { stdio: ["ignore", "pipe", "pipe"], detached: true })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    try {
      await waitFor(
        "compute and storage reported",
        () =>
          /verified JWT, received: compute\/production status=1/.test(output) &&
          /verified JWT, received: storage\/production status=2/.test(output) &&
          /\[slack\] \*storage\* in \*production\* is \*outage\*/.test(output) &&
          output.includes("INFO Sent notification to dashboard: success"),
        // Slack hears on the second reading (notifiers wait for two in a row), a 5 s interval later.
        15_000
      )
      // A newcomer's first screen: nothing to worry about in the demo's own configuration.
      expect(output).not.toMatch(/ WARN | ERROR /)
      child.kill("SIGINT")
      const code = await new Promise((r) => child.on("exit", r))
      expect(code).toBe(0)
      expect(output).toMatch(/\[demo\] reporter exited with 0; \d+ notification\(s\) received, \d+ Slack message\(s\)/)
      expect(output).toContain("Sent notification to slack: success")
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // already gone
      }
    }
  })
})
