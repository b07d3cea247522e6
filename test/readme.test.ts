/** The README's target sections: one per type in the adapter table, each example a configuration the program accepts. */
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { unknownKeys } from "../src/Config/Keys.js"
import { targetSchema } from "../src/Config/Schema.js"
import { TARGET_TYPES, type TargetType } from "../src/Target/registry.js"

const readme = readFileSync("README.md", "utf8")
const section = (type: string) => {
  const start = readme.search(new RegExp(`^### ${type}\\b`, "m"))
  if (start < 0) return undefined
  const rest = readme.slice(start + 4)
  return rest.slice(0, rest.search(/^##/m))
}

describe("the README's targets", () => {
  for (const type of TARGET_TYPES) {
    it(`documents ${type} with an example the program accepts`, () => {
      const text = section(type)
      expect(text, `a "### ${type}" section`).toBeDefined()
      const yaml = /```yaml\n([\s\S]*?)```/.exec(text!)![1]!
      const doc = YAML.parse(yaml) as { status_dashboard?: Record<string, unknown>; notifiers?: ReadonlyArray<Record<string, unknown>> }
      const target = doc.status_dashboard ?? doc.notifiers![0]!
      // Secrets given as files in the examples: the schema takes the path; reading it is the loader's job.
      const decoded = Schema.decodeUnknownEither(targetSchema(type as TargetType) as unknown as Schema.Schema<unknown>)({ type, ...target })
      expect(decoded._tag, JSON.stringify(decoded)).toBe("Right")
      expect(unknownKeys({ convertor: {}, ...doc })).toEqual([])
    })
  }
})
