/** Every file a source comment cites is one a reader of the repository can open. */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

describe("citations in the source", () => {
  it("name files that exist in the repository", () => {
    const files = execFileSync("git", ["ls-files", "src", "demo", "bench", "scripts", "test"], { encoding: "utf8" }).split("\n").filter((f) => f !== "")
    const cited = new Set<string>()
    for (const file of files) {
      for (const match of readFileSync(file, "utf8").matchAll(/(?:^|[\s(`'"])((?:[\w.-]+\/)*[\w.-]+\.md)\b/gm)) cited.add(match[1]!)
    }
    expect(cited.size).toBeGreaterThan(0)
    for (const path of cited) expect(existsSync(path), `${path} is cited but not in the repository`).toBe(true)
  })
})
