/**
 * High availability on Kubernetes (`ha`), put together: the API server
 * (Kube/Client.ts), the Lease (Kube/Objects.ts), where the policy's state
 * lives (State/Cluster.ts) and the elector (Kube/Elector.ts) whose
 * leadership the loop obeys (Leadership.ts). Built once per process: a
 * reload does not change `ha` (Config/Effective.ts says so).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConfigFile } from "./Config/Schema.js"
import { safeUrl } from "./Domain.js"
import { client, connection, type KubeConfigError } from "./Kube/Client.js"
import { type Elector, makeElector } from "./Kube/Elector.js"
import { identityOf } from "./Kube/Identity.js"
import { describe, owned } from "./Kube/Objects.js"
import type { StateBackend } from "./PolicyStore.js"
import { configMapBackend, leaseBackend } from "./State/Cluster.js"

export type HaConfig = NonNullable<ConfigFile["ha"]>

export interface Cluster {
  /** Where the policy's state lives (none with `ha.state: none`). */
  readonly backend: StateBackend | undefined
  readonly identity: string
  /** One line for the start-up log: who, which lease, where the state is, which API server. */
  readonly describe: string
  /** The elector, once the store it reads back on election exists. */
  readonly elect: (hooks: {
    readonly elected: Effect.Effect<void, string>
    readonly observed: (atMillis: number) => Effect.Effect<void>
    readonly changed: (leading: boolean) => Effect.Effect<void>
  }) => Effect.Effect<Elector>
}

/** client-go's client timeout for a lock: max(1 s, renew deadline / 2) (resourcelock/interface.go, NewFromKubeconfig). */
export const requestTimeout = (ha: HaConfig): Duration.Duration => Duration.max(Duration.seconds(1), Duration.times(ha.lease.renew_deadline, 0.5))

/** The namespace of the Lease: as configured, else the pod's (POD_NAMESPACE, the service account's), the context's, or "default" (client-go clientcmd). */
const namespaceOf = (ha: HaConfig, env: Record<string, string | undefined>, fromConnection: string | undefined) =>
  ha.lease.namespace ?? (env["POD_NAMESPACE"] || undefined) ?? fromConnection ?? "default"

/** Whether the API server can be found with what this process has: a start-up check (a problem is a configuration error). */
export const reachable = (env: Record<string, string | undefined>): Effect.Effect<void, KubeConfigError> => Effect.asVoid(connection(env))

export const connect = (ha: HaConfig, env: Record<string, string | undefined>): Effect.Effect<Cluster, KubeConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const conn = yield* connection(env)
    const api = yield* client(conn)
    const namespace = namespaceOf(ha, env, conn.namespace)
    const timeout = requestTimeout(ha)
    const lease = yield* owned(api, { group: "/apis/coordination.k8s.io/v1", resource: "leases", kind: "Lease", apiVersion: "coordination.k8s.io/v1", namespace, name: ha.lease.name }, timeout)
    let elector: Elector | undefined
    const leading = () => elector?.leading() ?? false
    const stateObject =
      ha.state === "configmap"
        ? yield* owned(api, { group: "/api/v1", resource: "configmaps", kind: "ConfigMap", apiVersion: "v1", namespace, name: ha.state_configmap ?? `${ha.lease.name}-state` }, timeout)
        : undefined
    const backend = stateObject !== undefined ? configMapBackend(stateObject, leading) : ha.state === "lease" ? leaseBackend(lease, leading) : undefined
    const identity = identityOf(env)
    const where = stateObject !== undefined ? describe(stateObject.ref) : ha.state === "lease" ? `the annotations of ${describe(lease.ref)}` : "memory only (ha.state: none)"
    return {
      backend,
      identity,
      describe:
        `High availability: ${identity} takes part in ${describe(lease.ref)} (lease ${Duration.format(ha.lease.duration)}, renew deadline ${Duration.format(ha.lease.renew_deadline)}, retry ${Duration.format(ha.lease.retry_period)}); ` +
        `state in ${where}; API server ${safeUrl(api.server)} (${api.source})`,
      elect: (hooks) =>
        Effect.tap(
          makeElector({ lease, identity, leaseDuration: ha.lease.duration, renewDeadline: ha.lease.renew_deadline, retryPeriod: ha.lease.retry_period, ...hooks }),
          (e) => Effect.sync(() => void (elector = e))
        )
    }
  })
