/**
 * A Slack incoming webhook (docs/protocols.md §6): one readable message per
 * cycle listing what changed (more only past Slack's advised length), at
 * most one per second per webhook across the process. The webhook URL is the
 * credential: it is never shown.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Adapter, DELIVERED, type Delivery, labelOf, type TargetError, type TargetPort } from "../Target.js"
import { badResponse, fromReply, peerMessage } from "../PeerError.js"
import { type Reply, Transport } from "../Transport.js"
import { type Held, type Hold, withHolds } from "./Holds.js"
import { clip, type Notification, statusLabel } from "../Domain.js"
import { forSecret, RateLimits } from "../RateLimits.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

/**
 * Slack reads `&`, `<` and `>` as control characters (`<!channel>` notifies
 * everyone, `<http://x|text>` is a link): in text we did not write they are
 * escaped, as Slack's "Formatting text for app surfaces" documents.
 */
export const escape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * Each field from the convertor or the configuration at most this long. Slack
 * documents 40,000 characters for a message's text and truncates past it;
 * a readable alert needs far less, and a few fields must fit.
 */
export const MAX_FIELD = 1000

const field = (text: string) => escape(clip(text, MAX_FIELD))

/** `*api* in *production* is *degraded* (status 1)`, then why, when the convertor said. */
export const textOf = (n: Notification): string =>
  n.status === 0
    ? `*${field(n.service.name)}* in *${field(n.service.environment)}* has *recovered* (status 0) at ${n.timestamp.toISOString()}`
    : `*${field(n.service.name)}* in *${field(n.service.environment)}* is *${statusLabel(n.status)}* (status ${n.status}) since ${n.timestamp.toISOString()}` +
      (n.why ? `\nWhy: ${field(n.why)}` : "")

/**
 * What Slack's webhook errors mean and what fixes them: the codes it answers
 * in the body, per "Improving error conditions for Incoming Webhooks"
 * (api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
 * 400 invalid_payload, user_not_found; 403 action_prohibited; 404
 * channel_not_found; 410 channel_is_archived; and for a webhook that was
 * removed, 404 no_service / 403 invalid_token. None passes by itself.
 */
const MEANINGS: Readonly<Record<string, string>> = {
  invalid_payload: "Slack could not read the message (please report it: the reporter builds it)",
  user_not_found: "the webhook's user no longer exists: create a new webhook",
  action_prohibited: "the workspace does not allow this webhook to post here (an admin's restriction, not the URL): ask a Slack admin, or use another channel",
  channel_not_found: "the webhook's channel no longer exists: create a webhook for an existing channel",
  channel_is_archived: "the webhook's channel is archived: unarchive it, or create a webhook for another channel",
  no_service: "the webhook was removed or its URL is wrong: create a new one",
  invalid_token: "the webhook was revoked: create a new one",
  no_team: "the webhook's workspace no longer exists: create a new webhook"
}

/** Every refusal of a webhook is the webhook's: the whole target is held back (Target/Holds.ts). */
const hold = (e: TargetError): Hold | undefined =>
  e.reason === "Rejected" || e.reason === "AuthFailed" ? { kind: "refused", scope: "target" } : undefined

/**
 * A message's text at most this long: Slack advises keeping a message's text
 * under 4,000 characters (it truncates far past that); a cycle's changes that
 * do not fit go in as few further messages as they need.
 */
export const MAX_MESSAGE = 3500

/** The cycle's changes, worst first, as messages of at most MAX_MESSAGE characters, each with the notifications it says. */
export const messagesOf = (ns: ReadonlyArray<Notification>): ReadonlyArray<{ readonly text: string; readonly notifications: ReadonlyArray<Notification> }> => {
  if (ns.length === 1) return [{ text: textOf(ns[0]!), notifications: ns }]
  const order = [...ns].sort((a, b) => b.status - a.status)
  const outages = ns.filter((n) => n.status >= 2).length
  const degraded = ns.filter((n) => n.status === 1).length
  const recovered = ns.filter((n) => n.status === 0).length
  const heading = [outages > 0 ? `${outages} outage(s)` : "", degraded > 0 ? `${degraded} degraded` : "", recovered > 0 ? `${recovered} recovered` : ""].filter((x) => x !== "").join(", ")
  const parts: Array<Array<Notification>> = [[]]
  let length = 0
  for (const n of order) {
    const line = textOf(n).length + 1
    if (parts.at(-1)!.length > 0 && length + line > MAX_MESSAGE - 200) {
      parts.push([])
      length = 0
    }
    parts.at(-1)!.push(n)
    length += line
  }
  return parts.map((part, i) => ({
    text: `*${ns.length} changes*: ${heading}${parts.length > 1 ? ` (message ${i + 1} of ${parts.length})` : ""}\n${part.map(textOf).join("\n")}`,
    notifications: part
  }))
}

export const Slack: Adapter<SettingsOf<"slack">> = {
  /**
   * `validate --connect`: a POST with no text, which a live webhook refuses
   * (400) without posting anything, and a removed, revoked or archived one
   * answers with its own code (404, 403, 410): the credential, checked with
   * no message sent.
   */
  check: (spec) =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const label = labelOf(spec)
      const where = `${label} at its webhook URL (${spec.path}.webhook_url)`
      const reply = yield* Effect.either(
        transport.exchange(
          { method: "POST", url: Redacted.value(spec.secrets["webhook_url"]!), headers: { "content-type": "application/json" }, body: "{}" },
          { timeout: spec.settings.timeout, maxBytes: 64 * 1024, oversize: "truncate" }
        )
      )
      if (reply._tag === "Left") return [{ ok: false, line: `${where}: unreachable: ${reply.left.detail}` }]
      const code = reply.right.body.trim()
      if (reply.right.status === 400) return [{ ok: true, line: `${where}: reachable, the webhook is live (it refused an empty message, ${code || "400"}; nothing was posted)` }]
      const meaning = MEANINGS[code]
      return [{ ok: false, line: `${where}: answered ${reply.right.status}${code ? ` ${peerMessage(code)}` : ""}${meaning === undefined ? "" : `: ${meaning}`}` }]
    }),
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const webhook = spec.secrets["webhook_url"]!
      const limiter = yield* forSecret("slack", webhook, 1, Duration.seconds(1))
      const sender = yield* makeSender(spec, budget, { peer: `its webhook URL (${spec.path}.webhook_url)`, authHint: `check ${spec.path}.webhook_url`, urlKey: `${spec.path}.webhook_url`, gate: limiter, limit: "Slack's 1 message a second per webhook" })
      const body = (n: Notification) => JSON.stringify({ text: textOf(n) })
      /** 200 with the body `ok` is a delivery; another 2xx body is not; an error's code is said with what it means. */
      const judge = (n: Notification) => (reply: Reply, now: number): Effect.Effect<Delivery, TargetError> => {
        const code = reply.body.trim()
        if (reply.status >= 200 && reply.status < 300) {
          return code === "ok" ? Effect.succeed(DELIVERED) : Effect.fail(sender.fail(n, { ...badResponse(`answered ${reply.status} without "ok" (${peerMessage(reply.body) || "an empty body"}): not taken as delivered`), reason: "Rejected" }))
        }
        const meaning = MEANINGS[code]
        if (meaning === undefined) return sender.judgeStatus(n, reply, now)
        const failure = fromReply(reply, `${spec.path}.webhook_url`, now)
        // Only a revoked or removed webhook is about the credential; action_prohibited is a workspace rule.
        const reason = code === "invalid_token" || code === "no_service" ? "AuthFailed" : failure.reason
        return Effect.fail(sender.fail(n, { ...failure, reason, detail: `${code}: ${meaning}` }))
      }
      const post = (n: Notification, text: string) =>
        sender.send(
          n,
          () => Effect.succeed({ method: "POST", url: Redacted.value(webhook), headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) }),
          judge(n)
        )
      const port: TargetPort = {
        name: spec.name,
        target: `Slack webhook (${spec.path})`,
        notify: (n) => post(n, textOf(n)),
        // One message per cycle listing what changed (as few more as its length needs), not one per service.
        notifyMany: (ns, done) =>
          Effect.forEach(
            messagesOf(ns),
            // Each message's notifications are recorded as soon as it is answered.
            (m) => Effect.flatMap(Effect.either(post(m.notifications[0]!, m.text)), (r) => Effect.forEach(m.notifications, (n) => done(ns.indexOf(n), r), { discard: true })),
            { discard: true }
          ),
        rehearse: (n) => Effect.succeed(`POST <${spec.path}.webhook_url, redacted> ${body(n)}`)
      }
      // Holds outlive a reload: a SIGHUP does not lift one (Slack warns about hammering a failing webhook).
      return withHolds(port, hold, (yield* RateLimits).carried<string, Held>(`holds:${spec.type}:${spec.name}`))
    })
}
