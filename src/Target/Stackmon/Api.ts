/**
 * What both Stackmon APIs share: where the components are listed, the token,
 * reading the list, and, when the configured API answers 404, which API the
 * server does speak (docs/stackmon-servers.md A1, B1).
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { peerMessage } from "../../PeerError.js"
import { Transport } from "../../Transport.js"
import type { Signer, SignFailed } from "../../Jwt.js"
import type { Notification } from "../../Domain.js"
import type { TargetError } from "../../Target.js"
import type { Sender } from "../Sender.js"
import { type Component, decodeComponents } from "./Components.js"

export type Api = "v1" | "v2"

/** Where each API lists the components: the Go server's `/v2/components` (routes.go:40), either server's `/v1/component_status` (routes.go:29; Python routes.py:209). */
export const COMPONENTS_PATH: Record<Api, string> = { v2: "/v2/components", v1: "/v1/component_status" }

/** The dashboard's impact scale (status-dashboard-v3:internal/api/v2/v2.go:32-37; status-dashboard:app/default_settings.py:43-48). */
export const impactLabel = (impact: number): string => `${impact} (${["none", "minor", "major", "outage"][impact] ?? "?"})`

/** An HS256 token with the `stackmon` claim, both servers' rule (middleware.go:59-64; authorization.py:55-61); no secret, no header. */
export const authHeaders = (signer: Signer | undefined, now: number): Effect.Effect<Record<string, string>, SignFailed> =>
  signer === undefined
    ? Effect.succeed({ "content-type": "application/json" })
    : Effect.map(signer.sign({ stackmon: "dummy" }, now), (token) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" }))

/** What each API's writer is given: where, how to send, and headers with a fresh token (as a target's error when signing fails). */
export interface WriterOptions {
  readonly url: string
  readonly sender: Sender
  readonly headers: (n: Notification, now: number) => Effect.Effect<Record<string, string>, TargetError>
}

/** Why the list could not be read, and whether another try could change that. */
export interface ReadFailure {
  readonly detail: string
  readonly status?: number
  readonly transient: boolean
}

export const readComponents = (
  base: string,
  api: Api,
  headers: Record<string, string>,
  timeout: Duration.Duration
): Effect.Effect<ReadonlyArray<Component>, ReadFailure, Transport> =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const reply = yield* transport
      .exchange({ method: "GET", url: `${base}${COMPONENTS_PATH[api]}`, headers }, { timeout, maxBytes: 4 * 1024 * 1024 })
      .pipe(Effect.mapError((fault): ReadFailure => ({ detail: fault.detail, transient: true })))
    if (reply.status !== 200) {
      // A 404 is a web server's page, not a word from the API: the status says it all.
      const said = reply.status === 404 ? "" : peerMessage(reply.body)
      return yield* Effect.fail<ReadFailure>({
        detail: `answered ${reply.status}${said ? `: ${said}` : ""}`,
        status: reply.status,
        transient: reply.status === 408 || reply.status === 429 || reply.status >= 500
      })
    }
    const decoded = decodeComponents(reply.body)
    if (decoded._tag === "Left") return yield* Effect.fail<ReadFailure>({ detail: "its answer is not a list of components", transient: false })
    return decoded.right
  })

/** What to do about a 404 from the configured API: the settings that work, where the other API answers, or what to check. */
export const advice404 = (base: string, api: Api, path: string, timeout: Duration.Duration): Effect.Effect<string, never, Transport> =>
  Effect.map(otherApi(base, api, path, timeout), (hint) => hint ?? `no Stackmon API answers there: check ${path}.url and ${path}.api`)

/**
 * The configured API answered 404: asks where the other one is, read-only
 * (the Python server mounts v1 under `/api`, status-dashboard:app/__init__.py:190;
 * the Go server serves both at its root, routes.go:29-96), and says which
 * settings work; undefined when none answers.
 */
export const otherApi = (
  base: string,
  api: Api,
  path: string,
  timeout: Duration.Duration
): Effect.Effect<string | undefined, never, Transport> => {
  const root = base.replace(/\/api$/, "")
  type Candidate = { readonly api: Api; readonly url: string }
  const all: ReadonlyArray<Candidate> =
    api === "v2"
      ? [{ api: "v1", url: base }, { api: "v1", url: `${root}/api` }]
      : [{ api: "v1", url: `${root}/api` }, { api: "v2", url: root }]
  const candidates = all.filter((c) => !(c.api === api && c.url === base))
  return Effect.gen(function* () {
    for (const c of new Map(candidates.map((c) => [`${c.api} ${c.url}`, c])).values()) {
      const found = yield* Effect.either(readComponents(c.url, c.api, {}, timeout))
      if (found._tag === "Right") {
        const settings = [c.api === api ? undefined : `${path}.api: ${c.api}`, c.url === base ? undefined : `${path}.url: ${c.url}`].filter((s) => s !== undefined)
        return `this server speaks API ${c.api} at ${c.url}: set ${settings.join(" and ")}`
      }
    }
    return undefined
  })
}
