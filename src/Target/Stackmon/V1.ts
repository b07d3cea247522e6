/**
 * Stackmon API v1 (`POST /v1/component_status`): the Python dashboard's only
 * write, which the Go server also serves. It opens or raises an incident and
 * can do nothing else: a lower or equal impact is answered 409, and no v1
 * route closes an incident (status-dashboard:app/api/routes.py:357-378,
 * 418-436; docs/stackmon-servers.md B3). The component is one the dashboard
 * lists: an unknown one is never posted (the Python server answers it 500,
 * routes.py:337 before its check at 344).
 */
import * as Effect from "effect/Effect"
import { DELIVERED, type Delivery, type TargetError } from "../../Target.js"
import type { Notification } from "../../Domain.js"
import type { Request } from "../../Transport.js"
import { impactLabel, type WriterOptions } from "./Api.js"
import { type Component, describeComponent } from "./Components.js"

export const makeV1 = (o: WriterOptions) => {
  /** The impact last posted per component, to tell "already open" from "cannot lower". */
  const last = new Map<number, number>()

  const body = (c: Component, impact: number) => ({
    name: c.name,
    impact,
    text: "System incident from monitoring system",
    // The component's own attributes: the server takes the first component whose attributes
    // include those given (status-dashboard:app/models.py:138-166), so all of them name this one.
    attributes: c.attributes ?? []
  })

  const notify = (n: Notification, c: Component, impact: number): Effect.Effect<Delivery, TargetError> => {
    if (n.status === 0) {
      return Effect.succeed({
        _tag: "Skipped",
        why: `API v1 cannot close an incident: close the one holding component ${describeComponent(c)} on the dashboard, or use API v2`,
        level: "info",
        final: true
      })
    }
    return o.sender.send(
      n,
      (now) => Effect.map(o.headers(n, now), (h): Request => ({ method: "POST", url: `${o.url}/v1/component_status`, headers: h, body: JSON.stringify(body(c, impact)) })),
      (reply, now) => {
        // 409: an incident at this impact or higher is open (routes.py:357-378, 418-436; Go v1.go:324-327).
        if (reply.status === 409) {
          const before = last.get(c.id) ?? 0
          return Effect.succeed<Delivery>(
            before > impact
              ? { _tag: "Skipped", why: `API v1 cannot lower an incident: component ${describeComponent(c)} stays at impact ${impactLabel(before)} on the dashboard`, level: "info", final: true }
              : DELIVERED
          )
        }
        return Effect.tap(o.sender.judgeStatus(n, reply, now), () => Effect.sync(() => last.set(c.id, impact)))
      }
    )
  }

  return {
    notify,
    describe: (n: Notification, c: Component, impact: number): string =>
      n.status === 0 ? "nothing: API v1 cannot close an incident" : `POST /v1/component_status ${JSON.stringify(body(c, impact))}`
  }
}
