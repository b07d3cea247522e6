/**
 * The state file (`reporter.state_file`): the policy's tracks as JSON,
 * written atomically (a temporary file, then rename). A file that is
 * missing is an empty start; one that cannot be read or is not a state file
 * of this program is a warning, and an empty start.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { type StateBackend, Track } from "../PolicyStore.js"

const StateFile = Schema.parseJson(Schema.Struct({ version: Schema.Literal(1), tracks: Schema.Record({ key: Schema.String, value: Track }) }))

export const fileBackend = (file: string): Effect.Effect<StateBackend, never, FileSystem.FileSystem> =>
  Effect.map(FileSystem.FileSystem, (fs) => ({
    where: file,
    load: fs.readFileString(file).pipe(
      Effect.flatMap((text) => Schema.decode(StateFile)(text)),
      Effect.map((state): ReadonlyMap<string, Track> => new Map(Object.entries(state.tracks))),
      Effect.catchAll((e) =>
        e._tag === "SystemError" && e.reason === "NotFound"
          ? Effect.succeed(new Map<string, Track>())
          : Effect.as(
              Effect.logWarning(`reporter.state_file ${file} cannot be read (${e._tag === "ParseError" ? "not a state file of this program" : e.message}): starting with no notification state`),
              new Map<string, Track>()
            )
      )
    ),
    save: (tracks) =>
      Effect.gen(function* () {
        const text = yield* Schema.encode(StateFile)({ version: 1, tracks: Object.fromEntries(tracks) })
        const temporary = `${file}.${process.pid}.tmp`
        yield* fs.writeFileString(temporary, `${text}\n`)
        yield* fs.rename(temporary, file)
      }).pipe(Effect.mapError((e) => `reporter.state_file ${file} cannot be written (${e.message})`))
  }))
