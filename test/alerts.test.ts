/** deploy/alerts.yaml: valid rules for the metrics the program serves, each alert replayed by promtool on made-up series. */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"

const rules = (YAML.parse(readFileSync("deploy/alerts.yaml", "utf8")) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules)

describe("the suggested alerts", () => {
  it("are rules promtool accepts, for the reporter gone, the four things the README says to alert on, and no leader or two (ha)", () => {
    execFileSync("promtool", ["check", "rules", "deploy/alerts.yaml"], { stdio: "pipe" })
    expect(rules.map((r) => r.alert)).toEqual([
      "CloudmonReporterDown",
      "CloudmonReporterNoCycle",
      "CloudmonReporterNotificationsFailing",
      "CloudmonReporterTargetRefusing",
      "CloudmonReporterConvertorErrors",
      "CloudmonReporterNoLeader",
      "CloudmonReporterTwoLeaders"
    ])
    const readme = readFileSync("README.md", "utf8")
    for (const r of rules) expect(readme).toContain(`**${r.alert}**`)
  })

  it("fire when they should and not before (promtool test rules)", () => {
    const out = execFileSync("promtool", ["test", "rules", "test/alerts.promtool.yaml"], { encoding: "utf8", stdio: "pipe" })
    expect(out).toContain("SUCCESS")
  })

  it("use only series the program serves", () => {
    const served = readFileSync("src/Observability/Prometheus.ts", "utf8")
    for (const name of new Set(rules.flatMap((r) => r.expr.match(/cloudmon_reporter_\w+/g) ?? []))) {
      expect(served).toContain(`\${P}${name.replace("cloudmon_reporter_", "")}`)
    }
  })
})
