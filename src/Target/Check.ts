/**
 * `validate --connect`: can each target be reached, and does it take our
 * credentials? One request per target, never a notification: the
 * protocol's read-only, authenticated request where it has one (Statuspage
 * `GET /pages/{page_id}`), otherwise a
 * plain `GET /` of the target's host, which shows it is reachable but
 * cannot show that the credentials are right. An adapter whose protocol
 * needs more than one request to tell has its own `check` (Stackmon).
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type Adapter, labelOf } from "../Target.js"
import { safeUrl } from "../Domain.js"
import { peerMessage } from "../PeerError.js"
import { type Request, Transport } from "../Transport.js"
import { addressOf, REGISTRY, type TargetSpec, type TargetType } from "./registry.js"

export interface CheckResult {
  readonly ok: boolean
  readonly line: string
}

/** A read-only request that needs our credentials, and how to say it (`GET /v2/components`). */
export interface ReadOnly {
  readonly request: Request
  readonly what: string
}

/** Why a type's credentials cannot be checked without side effects. */
const UNCHECKABLE: Readonly<Record<string, string>> = {
  pagerduty: "PagerDuty's Events API takes any well-formed 32-character key and drops an unknown one later, so no request can tell (its length was checked at load)",
  generic: "its protocol has no request that changes nothing",
  webhook: "a webhook has no request that changes nothing"
}

export const checkTarget = (adapter: Adapter, spec: TargetSpec): Effect.Effect<CheckResult, never, Transport> =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const label = labelOf(spec)
    const timeout = (spec.settings as { timeout: Duration.Duration }).timeout
    const asked = adapter.readOnly === undefined ? undefined : yield* Effect.either(adapter.readOnly(spec))
    if (asked?._tag === "Left") return { ok: false, line: `${label}: ${asked.left}` }
    const readOnly = asked?.right
    const address = addressOf(spec)
    if (readOnly === undefined && address === undefined) return { ok: true, line: `${label}: nothing to check` }
    const request: Request = readOnly?.request ?? { method: "GET", url: `${new URL(address!).origin}/`, headers: {} }
    const where = readOnly === undefined ? `${new URL(address!).origin} (its host)` : `${safeUrl(address ?? request.url)} (${readOnly.what})`
    const reply = yield* Effect.either(transport.exchange(request, { timeout, maxBytes: 4 * 1024 * 1024, oversize: "truncate" }))
    if (reply._tag === "Left") return { ok: false, line: `${label} at ${where}: unreachable: ${reply.left.detail}` }
    const { status, body } = reply.right
    const said = peerMessage(body) ? `: ${peerMessage(body)}` : ""
    if (readOnly === undefined) {
      return { ok: true, line: `${label} at ${where}: reachable (answered ${status}); credentials not checked: ${UNCHECKABLE[spec.type] ?? "its protocol has no read-only request"}` }
    }
    if (status === 401 || status === 403) {
      return { ok: false, line: `${label} at ${where}: reachable, but the credentials were refused (${status}${said}); check ${spec.path}.${REGISTRY[spec.type as TargetType].secrets[0]?.key ?? "secret"}` }
    }
    if (status < 200 || status > 299) return { ok: false, line: `${label} at ${where}: reachable, but answered ${status}${said}` }
    return { ok: true, line: `${label} at ${where}: reachable, credentials accepted` }
  })
