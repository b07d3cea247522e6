/**
 * Keys the program does not know, found by walking the schema itself: a
 * typo (`pol_interval`, `notifier:`) is an error, never silently ignored, and a new key in
 * Config/Schema.ts is known here without being listed twice.
 */
import type * as AST from "effect/SchemaAST"
import { levenshtein } from "../Domain.js"
import { TARGET_TYPES, type TargetType } from "../Target/registry.js"
import { ConfigFile, targetSchema, TargetTypes } from "./Schema.js"

/**
 * The shape of the file as far as keys go: a mapping of known keys, a list of
 * items, a target whose keys depend on its `type`, or a leaf.
 */
type Shape =
  | { readonly keys: ReadonlyMap<string, Shape> }
  | { readonly items: Shape }
  | { readonly byType: ReadonlyMap<string, Shape>; readonly fallback: string | undefined }
  | "leaf"

const shapeOf = (ast: AST.AST): Shape => {
  const types = ast.annotations[TargetTypes] as ReadonlyArray<TargetType> | undefined
  if (types !== undefined) {
    return { byType: new Map(types.map((t) => [t, shapeOf(targetSchema(t).ast)])), fallback: types.length < TARGET_TYPES.length ? types[0] : undefined }
  }
  switch (ast._tag) {
    case "TypeLiteral":
      // A mapping of free names (components, attributes, headers) has no unknown keys.
      return ast.indexSignatures.length > 0 ? "leaf" : { keys: new Map(ast.propertySignatures.map((p) => [String(p.name), shapeOf(p.type)])) }
    case "TupleType":
      return ast.rest.length > 0 ? { items: shapeOf(ast.rest[0]!.type) } : "leaf"
    // The file's side of a transformation (a key with a default, seconds as Durations) or a refinement.
    case "Transformation":
    case "Refinement":
      return shapeOf(ast.from)
    default:
      return "leaf"
  }
}

const FILE_SHAPE = shapeOf(ConfigFile.ast)

const didYouMean = (key: string, known: Iterable<string>): string => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = levenshtein(key.toLowerCase(), candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : ""
}

const isTree = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** One problem per key the schema does not know, with its path and a suggestion. */
export const unknownKeys = (tree: unknown): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (node: unknown, shape: Shape, path: string): void => {
    if (shape === "leaf") return
    if ("items" in shape) {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, shape.items, `${path}[${i}]`))
      return
    }
    if ("byType" in shape) {
      // An unknown or missing type is the schema's error to report; its keys cannot be judged.
      const type = isTree(node) ? (node["type"] ?? shape.fallback) : undefined
      const typed = typeof type === "string" ? shape.byType.get(type) : undefined
      if (typed !== undefined) walk(node, typed, path)
      return
    }
    if (!isTree(node)) return
    for (const [key, value] of Object.entries(node)) {
      const where = path === "" ? key : `${path}.${key}`
      const child = shape.keys.get(key)
      if (child === undefined) found.push(`unknown key ${where}${didYouMean(key, shape.keys.keys())}: correct it or remove it`)
      else walk(value, child, where)
    }
  }
  walk(tree, FILE_SHAPE, "")
  return found
}
