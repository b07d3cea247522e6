/**
 * Where the configuration comes from: the YAML file, `conf.d/*.yaml` beside
 * it (name order, deep merge), then `MP_*` environment variables (`__`
 * nests). Every read is bounded, every YAML document checked before use.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as YAML from "yaml"
import { SECRET_KEYS } from "../Target/registry.js"
import { show } from "../Fields.js"
import { readBounded, readProblem } from "../Files.js"

export type Tree = Record<string, unknown>

export const isTree = (u: unknown): u is Tree => typeof u === "object" && u !== null && !Array.isArray(u)

const twinOf = (key: string): string | undefined =>
  SECRET_KEYS.has(key) ? `${key}_file` : key.endsWith("_file") && SECRET_KEYS.has(key.slice(0, -5)) ? key.slice(0, -5) : undefined

const isIndex = (key: string) => /^\d+$/.test(key)

/**
 * One configuration layer over the ones before it. Later wins; mappings merge
 * key by key; a secret set either way (`secret` or `secret_file`) replaces
 * both; lists are replaced, except by a mapping of indexes
 * (`MP_NOTIFIERS__0__ROUTING_KEY`), which merges into those items.
 */
export const overlay = (base: Tree, over: Tree): Tree => {
  const out: Tree = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const twin = twinOf(key)
    if (twin !== undefined) delete out[twin]
    const prev = out[key]
    if (Array.isArray(prev) && isTree(value) && Object.keys(value).every(isIndex)) {
      const items = [...prev] as Array<unknown>
      for (const [index, item] of Object.entries(value)) {
        const at = Number(index)
        items[at] = isTree(items[at]) && isTree(item) ? overlay(items[at] as Tree, item) : item
      }
      out[key] = items
    } else out[key] = isTree(prev) && isTree(value) ? overlay(prev, value) : value
  }
  return out
}

const ENV_PREFIX = "MP_"

/** Each `MP_` variable with the key path it sets, in the order they apply. */
const envPaths = (env: Record<string, string | undefined>): ReadonlyArray<readonly [string, ReadonlyArray<string>]> =>
  Object.keys(env)
    .sort()
    .filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined)
    .map((name) => [name, name.slice(ENV_PREFIX.length).toLowerCase().split("__")] as const)
    .filter(([, path]) => path.every((p) => p !== ""))

/**
 * A problem's path as the user set it: a value that came from an `MP_`
 * variable is named by the variable (`MP_REPORTER__POLL_INTERVAL`), with
 * what follows inside it (`MP_REPORTER__SERVICES[0].name`).
 */
export const namer = (env: Record<string, string | undefined>) => {
  const sources = envPaths(env).map(([name, path]) => [name, path.join(".")] as const)
  return (where: string): string => {
    for (const [name, key] of sources) {
      if (where === key || where.startsWith(`${key}.`) || where.startsWith(`${key}[`)) return `${name}${where.slice(key.length)}`
    }
    return where
  }
}

/**
 * `MP_STATUS_DASHBOARD__SECRET=x` -> `{status_dashboard: {secret: "x"}}`.
 * Values stay strings (numbers are parsed by the schema), except a value that
 * starts with `[` or `{`, read as YAML so lists such as services can be set too.
 */
export const envOverrides = (env: Record<string, string | undefined>): Tree => {
  let tree: Tree = {}
  for (const [name, path] of envPaths(env)) {
    const raw = env[name]!
    const trimmed = raw.trim()
    let value: unknown = raw
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      try {
        value = YAML.parse(trimmed)
      } catch {
        value = raw
      }
    }
    const leaf: Tree = path.reduceRight<Tree>((acc, key, i) => (i === path.length - 1 ? { [key]: value } : { [key]: acc }), {})
    tree = overlay(tree, leaf)
  }
  return tree
}

export const parseYaml = (text: string): Either.Either<unknown, string> => {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  const [first] = doc.errors
  if (first !== undefined) {
    const pos = first.linePos?.[0]
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : ""
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
    return Either.left(`invalid YAML${where}: ${reason}`)
  }
  try {
    // yaml refuses to expand an alias bomb (a few lines that would become gigabytes).
    return Either.right(doc.toJS({ maxAliasCount: 100 }) as unknown)
  } catch {
    return Either.left("invalid YAML: its aliases expand too far (an alias bomb?); write the values out")
  }
}

/** Reads are bounded: a configuration is small, and /dev/zero is not a file. */
export const MAX_CONFIG_BYTES = 1024 * 1024
export const MAX_SECRET_BYTES = 64 * 1024

const readYaml = (name: string, label: string, missingHint: string) =>
  Effect.gen(function* () {
    const prefix = label === "the file" ? "" : `${label}: `
    const text = yield* readBounded(name, MAX_CONFIG_BYTES).pipe(
      Effect.mapError((reason) => `${readProblem(label, reason, MAX_CONFIG_BYTES)}${reason === "NotFound" ? missingHint : ""}`)
    )
    const tree = parseYaml(text)
    if (Either.isLeft(tree)) return yield* Effect.fail(`${prefix}${tree.left}`)
    if (tree.right !== null && !isTree(tree.right)) {
      return yield* Effect.fail(`${prefix}expected a YAML mapping at the top level, got ${show(tree.right)}`)
    }
    return (tree.right as Tree | null) ?? {}
  })

/**
 * The file, then `conf.d/*.yaml` beside it in name order, then the `MP_`
 * variables, each over the ones before. Fails with the first problem.
 */
export const readLayers = (file: string, env: Record<string, string | undefined>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let merged = yield* readYaml(file, "the file", " (pass the right path with --config FILE)")
    const confDir = path.join(path.dirname(file), "conf.d")
    const isDir = yield* fs.stat(confDir).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    const names = isDir ? yield* fs.readDirectory(confDir).pipe(Effect.orElseSucceed(() => [] as Array<string>)) : []
    for (const name of names.filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort()) {
      const full = path.join(confDir, name)
      merged = overlay(merged, yield* readYaml(full, full, ""))
    }
    return overlay(merged, envOverrides(env))
  })
