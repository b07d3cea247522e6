/**
 * Reading a file we are pointed at (a configuration, a secret, the state
 * file) without trusting it: only a regular file, never more than a cap, so
 * a FIFO cannot hang start-up and /dev/zero or a 1 GB file cannot fill memory.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

export type ReadProblem = "NotFound" | "PermissionDenied" | "NotRegular" | "TooLarge" | string

/** A regular file's text, at most `maxBytes`: a FIFO, a device or a file past the cap is refused, never read into memory. */
export const readBounded = (name: string, maxBytes: number): Effect.Effect<string, ReadProblem, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(name)
    if (info.type !== "File") return yield* Effect.fail("NotRegular" as const)
    if (Number(info.size) > maxBytes) return yield* Effect.fail("TooLarge" as const)
    const bytes = yield* Effect.scoped(
      Effect.flatMap(fs.open(name, { flag: "r" }), (file) => file.readAlloc(FileSystem.Size(maxBytes + 1)))
    )
    const data = Option.getOrElse(bytes, () => new Uint8Array(0))
    if (data.length > maxBytes) return yield* Effect.fail("TooLarge" as const)
    return new TextDecoder().decode(data)
  }).pipe(
    Effect.mapError((e) =>
      typeof e === "string" ? e : e._tag === "SystemError" ? e.reason : ("Unknown" as const)
    )
  )

/** What to say about `it` that could not be read for `reason`. */
export const readProblem = (it: string, reason: ReadProblem, maxBytes: number): string =>
  reason === "NotFound"
    ? `${it} does not exist`
    : reason === "PermissionDenied"
      ? `${it} cannot be read: permission denied (check its owner and mode)`
      : reason === "NotRegular"
        ? `${it} is not a regular file`
        : reason === "TooLarge"
          ? `${it} is larger than ${maxBytes / 1024} KiB`
          : `${it} cannot be read (is it a regular file?)`
