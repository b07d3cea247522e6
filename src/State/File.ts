/**
 * The state file (`reporter.state_file`): the policy's tracks as JSON,
 * written atomically (a temporary file, then rename). A file that is
 * missing is an empty start; anything else that is not a state file of this
 * program (another program's JSON, keys that are not tracks, a FIFO, a
 * device, a file past MAX_STATE_BYTES) is a warning, and an empty start:
 * never a crash, a hang or a gigabyte in memory. Temporary files that a
 * killed process left behind are removed at start.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { readBounded } from "../Files.js"
import { type StateBackend, Track } from "../PolicyStore.js"

/** About 50,000 tracks: far more than any configuration has (1000 services and 6 targets is about 1 MiB). */
export const MAX_STATE_BYTES = 8 * 1024 * 1024

/** A track's key, as PolicyStore writes it: `["target","service","environment"]`. */
const TrackKey = Schema.String.pipe(
  Schema.filter((key) => {
    try {
      const parts: unknown = JSON.parse(key)
      return Array.isArray(parts) && parts.length === 3 && parts.every((p) => typeof p === "string")
    } catch {
      return false
    }
  })
)

const StateFile = Schema.parseJson(Schema.Struct({ version: Schema.Literal(1), tracks: Schema.Record({ key: TrackKey, value: Track }) }))

/** The tracks as the state file's JSON (also what the cluster backend stores: State/Cluster.ts). */
export const encodeState = (tracks: ReadonlyMap<string, Track>): Effect.Effect<string> =>
  Schema.encode(StateFile)({ version: 1, tracks: Object.fromEntries(tracks) }).pipe(Effect.orDie)

/** The tracks of a state file's JSON; fails when it is not one of this program. */
export const decodeState = (text: string): Effect.Effect<ReadonlyMap<string, Track>, "invalid"> =>
  Schema.decode(StateFile)(text, { onExcessProperty: "error" }).pipe(
    Effect.map((state): ReadonlyMap<string, Track> => new Map(Object.entries(state.tracks))),
    Effect.mapError(() => "invalid" as const)
  )

/** `state.json.<pid>.tmp`, as `save` names its temporary file. */
const temporaryOf = (file: string, pid: number) => `${file}.${pid}.tmp`

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export const fileBackend = (file: string): Effect.Effect<StateBackend, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const empty = new Map<string, Track>()
    const said = (why: string) => Effect.as(Effect.logWarning(`reporter.state_file ${file} ${why}: starting with no notification state`), empty)

    /** What `kill -9` during a write left behind: another process's temporary file, that process gone. */
    const leftovers = Effect.gen(function* () {
      const prefix = `${path.basename(file)}.`
      const names = yield* fs.readDirectory(path.dirname(file))
      for (const name of names) {
        const pid = name.startsWith(prefix) && name.endsWith(".tmp") ? Number(name.slice(prefix.length, -4)) : Number.NaN
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) yield* fs.remove(path.join(path.dirname(file), name))
      }
    }).pipe(Effect.catchAll(() => Effect.void))

    const load: StateBackend["load"] = Effect.zipRight(
      leftovers,
      readBounded(file, MAX_STATE_BYTES).pipe(
        Effect.matchEffect({
          onFailure: (reason) =>
            reason === "NotFound"
              ? Effect.succeed(empty)
              : said(
                  reason === "NotRegular"
                    ? "is not a regular file (a FIFO or a device?)"
                    : reason === "TooLarge"
                      ? `is larger than ${MAX_STATE_BYTES / 1024 / 1024} MiB, more than any state file of this program`
                      : reason === "PermissionDenied"
                        ? "cannot be read: permission denied (check its owner and mode)"
                        : `cannot be read (${reason})`
                ),
          onSuccess: (text) =>
            decodeState(text).pipe(Effect.catchAll(() => said("cannot be read (not a state file of this program)")))
        })
      )
    ).pipe(Effect.provideService(FileSystem.FileSystem, fs))
    return {
      load,
      save: (tracks) =>
        Effect.gen(function* () {
          const text = yield* encodeState(tracks)
          const temporary = temporaryOf(file, process.pid)
          yield* fs.writeFileString(temporary, `${text}\n`)
          yield* fs.rename(temporary, file)
        }).pipe(Effect.mapError((e) => `reporter.state_file ${file} cannot be written (${e.message})`))
    } satisfies StateBackend
  })
