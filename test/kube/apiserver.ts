/**
 * A loopback Kubernetes API server for the two objects the reporter uses,
 * a coordination.k8s.io/v1 Lease and a v1 ConfigMap, built from the API
 * server's source (each rule cites it; nothing of it is copied). Versions read:
 * - AS  kubernetes/apiserver@24a394e516bfda066d7e2221d7d92c052de27c54
 * - AM  kubernetes/apimachinery@eed236ceee2c19c2753a3d93ac0631dc20750454
 * - API kubernetes/api@10b39a39bcee995dfe7cd5e8e7b922be5e46f1e2
 * - K   kubernetes/kubernetes, the files named (per-file commits in docs/protocols.md)
 *
 * `handle` is the server's logic, so unit tests can use it without a socket
 * (`inMemoryClient`); `startApiServer` serves it on 127.0.0.1, with bearer
 * tokens naming each client so a test can cut one off.
 */
import * as http from "node:http"
import * as Effect from "effect/Effect"
import { type KubeAnswer, type KubeClient, KubeFault } from "../../src/Kube/Client.js"

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> }

interface Kind {
  readonly resource: string
  readonly group: string
  readonly kind: string
  /** How names read in messages: `leases.coordination.k8s.io` (AM runtime/schema/group_version.go:69-74). */
  readonly qualified: string
  /** The strategy's AllowCreateOnUpdate and AllowUnconditionalUpdate. */
  readonly createOnUpdate: boolean
  readonly unconditionalUpdate: boolean
}

const KINDS: ReadonlyArray<Kind & { readonly prefix: RegExp }> = [
  {
    prefix: /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/,
    resource: "leases",
    group: "coordination.k8s.io",
    kind: "Lease",
    qualified: "leases.coordination.k8s.io",
    // K pkg/registry/coordination/lease/strategy.go@873c3ca2 L83-86: AllowCreateOnUpdate true ("you may create one with a PUT");
    // L98-101: AllowUnconditionalUpdate false.
    createOnUpdate: true,
    unconditionalUpdate: false
  },
  {
    prefix: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/,
    resource: "configmaps",
    group: "",
    kind: "ConfigMap",
    qualified: "configmaps",
    // K pkg/registry/core/configmap/strategy.go@fa7ba8e2 L74-76: AllowCreateOnUpdate false; L96-98: AllowUnconditionalUpdate true.
    createOnUpdate: false,
    unconditionalUpdate: true
  }
]

/** A Status object, as every failure is (AM pkg/api/errors/errors.go; kind and apiVersion set by AS endpoints/handlers/responsewriters/status.go:56-57). */
const status = (code: number, reason: string, message: string, details?: Record<string, unknown>): KubeAnswer => ({
  status: code,
  body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details === undefined ? {} : { details }), code }
})

/** MicroTime is parsed with the layout 2006-01-02T15:04:05.000000Z07:00 (AM pkg/apis/meta/v1/micro_time.go:26, 113-132): exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/

/** The API server's 1 MiB for a ConfigMap's values (API core/v1/types.go:8322 MaxSecretSize, used by ValidateConfigMap). */
export const MAX_CONFIGMAP_DATA = 1024 * 1024
/** AM pkg/api/validation/objectmeta.go:39 TotalAnnotationSizeLimitB. */
export const MAX_ANNOTATIONS = 256 * 1024
/** AM pkg/util/validation/validation.go:405-421 IsConfigMapKey. */
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/

export interface Write {
  readonly at: number
  /** Whose token made it. */
  readonly client: string
  readonly method: string
  readonly resource: string
  readonly name: string
  readonly object: Obj
}

export interface ApiServerOptions {
  /** Bearer token -> the client's name. */
  readonly tokens: Readonly<Record<string, string>>
  /** Clock for writes (tests may pass TestClock-driven time). */
  readonly now?: () => number
}

export const makeApiServer = (options: ApiServerOptions) => {
  const objects = new Map<string, Obj>()
  const writes: Array<Write> = []
  let version = 1000
  let uids = 0
  const now = options.now ?? Date.now

  const invalid = (k: Kind, name: string, causes: ReadonlyArray<string>) =>
    // AM errors.go:284-312 NewInvalid: `<Kind> "<name>" is invalid: <causes>`, 422 (K's qualified Kind for groups: Lease.coordination.k8s.io).
    status(422, "Invalid", `${k.group === "" ? k.kind : `${k.kind}.${k.group}`} "${name}" is invalid: ${causes.length === 1 ? causes[0] : `[${causes.join(", ")}]`}`, {
      name,
      ...(k.group === "" ? {} : { group: k.group }),
      kind: k.kind
    })

  /** What validation refuses (AM objectmeta.go, K pkg/apis/core/validation ValidateConfigMap, K pkg/apis/coordination/validation ValidateLeaseSpec). */
  const validate = (k: Kind, o: Obj): ReadonlyArray<string> => {
    const causes: Array<string> = []
    const annotations = (o.metadata["annotations"] ?? {}) as Record<string, string>
    // objectmeta.go:61-70: keys and values together, at most 256 KiB.
    const annotationBytes = Object.entries(annotations).reduce((n, [key, v]) => n + Buffer.byteLength(key) + Buffer.byteLength(String(v)), 0)
    if (annotationBytes > MAX_ANNOTATIONS) causes.push(`metadata.annotations: Too long: may not be more than ${MAX_ANNOTATIONS} bytes`)
    if (k.resource === "configmaps") {
      const data = (o["data"] ?? {}) as Record<string, string>
      for (const key of Object.keys(data)) {
        if (!CONFIG_KEY.test(key) || key.length > 253) causes.push(`data[${key}]: Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`)
      }
      // ValidateConfigMap: only the values count, data and binaryData together.
      const size = Object.values(data).reduce((n, v) => n + Buffer.byteLength(String(v)), 0)
      if (size > MAX_CONFIGMAP_DATA) causes.push(`[]: Too long: may not be more than ${MAX_CONFIGMAP_DATA} bytes`)
    } else {
      const spec = (o["spec"] ?? {}) as Record<string, unknown>
      // ValidateLeaseSpec: a duration, when given, above 0; transitions not negative.
      if (spec["leaseDurationSeconds"] !== undefined && !((spec["leaseDurationSeconds"] as number) > 0)) causes.push("spec.leaseDurationSeconds: Invalid value: must be greater than 0")
      if (spec["leaseTransitions"] !== undefined && (spec["leaseTransitions"] as number) < 0) causes.push("spec.leaseTransitions: Invalid value: must be greater than or equal to 0")
    }
    return causes
  }

  /** The body's decoding: a MicroTime that is not one is a 400 (AS handlers/update.go:115-128 -> rest.go:245-256 transformDecodeError). */
  const decodeProblem = (k: Kind, o: Obj): string | undefined => {
    if (k.resource !== "leases") return undefined
    const spec = (o["spec"] ?? {}) as Record<string, unknown>
    for (const field of ["acquireTime", "renewTime"]) {
      const v = spec[field]
      if (v !== undefined && v !== null && (typeof v !== "string" || !MICRO_TIME.test(v))) {
        return `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`
      }
    }
    return undefined
  }

  const stored = (k: Kind, namespace: string, name: string, o: Obj, created?: Obj): Obj => {
    const metadata = {
      ...o.metadata,
      name,
      namespace,
      uid: created?.metadata["uid"] ?? `uid-${++uids}`,
      creationTimestamp: created?.metadata["creationTimestamp"] ?? new Date(now()).toISOString().replace(/\.\d+Z$/, "Z"),
      resourceVersion: String(++version)
    }
    return { ...o, apiVersion: k.group === "" ? "v1" : `${k.group}/v1`, kind: k.kind, metadata }
  }

  const create = (k: Kind, namespace: string, o: Obj, client: string, method: string): KubeAnswer => {
    const name = String(o.metadata["name"] ?? "")
    const key = `${k.resource}/${namespace}/${name}`
    // AS store.go:594-611 (Create) -> storage.go:61-64: 409 AlreadyExists.
    if (objects.has(key)) return status(409, "AlreadyExists", `${k.qualified} "${name}" already exists`, { name, ...(k.group === "" ? {} : { group: k.group }), kind: k.resource })
    // AS pkg/storage/errors.go:29, etcd3/store.go:298: a create carrying a resourceVersion is a storage error, answered 500.
    if (o.metadata["resourceVersion"] !== undefined && o.metadata["resourceVersion"] !== "") {
      return status(500, "InternalError", "Internal error occurred: resourceVersion should not be set on objects to be created")
    }
    const problem = decodeProblem(k, o)
    if (problem !== undefined) return status(400, "BadRequest", problem)
    const causes = validate(k, o)
    if (causes.length > 0) return invalid(k, name, causes)
    const saved = stored(k, namespace, name, o)
    objects.set(key, saved)
    writes.push({ at: now(), client, method, resource: k.resource, name, object: saved })
    return { status: 201, body: saved }
  }

  const handle = (method: string, path: string, body: unknown, token: string | undefined): KubeAnswer => {
    // Authentication comes first (AS pkg/endpoints/filters/authentication.go): 401, a Status with reason Unauthorized.
    const client = token === undefined ? undefined : options.tokens[token]
    if (client === undefined) return status(401, "Unauthorized", "Unauthorized")
    const match = KINDS.map((k) => ({ k, m: k.prefix.exec(path) })).find((x) => x.m !== null)
    if (match === undefined) return status(404, "NotFound", "the server could not find the requested resource")
    const { k } = match
    const namespace = decodeURIComponent(match.m![1]!)
    const name = match.m![2] === undefined ? undefined : decodeURIComponent(match.m![2])
    const key = `${k.resource}/${namespace}/${name}`
    const existing = objects.get(key)
    const notFound = () =>
      // AM errors.go:145-157 NewNotFound; details.kind is the resource, group omitted for core.
      status(404, "NotFound", `${k.qualified} "${name}" not found`, { name, ...(k.group === "" ? {} : { group: k.group }), kind: k.resource })
    if (method === "GET" && name !== undefined) return existing === undefined ? notFound() : { status: 200, body: structuredClone(existing) }
    const o = (typeof body === "object" && body !== null ? structuredClone(body) : {}) as Obj
    o.metadata = (o.metadata ?? {}) as Record<string, unknown>
    if (method === "POST" && name === undefined) return create(k, namespace, o, client, method)
    if (method !== "PUT" || name === undefined) return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    // AS rest.go:273-291: the body's name must be the URL's (an empty one too), and its namespace, if any, the URL's.
    if (o.metadata["namespace"] !== undefined && o.metadata["namespace"] !== namespace) {
      return status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
    }
    if (o.metadata["name"] !== name) {
      return status(400, "BadRequest", `the name of the object (${String(o.metadata["name"])}) does not match the name on the URL (${name})`)
    }
    const uid = o.metadata["uid"]
    // AS rest/update.go:202-217 and storage interfaces.go:145-172: a body's uid is a precondition, checked even when the object is gone.
    if (uid !== undefined && existing?.metadata["uid"] !== uid) {
      return status(409, "Conflict", `Operation cannot be fulfilled on ${k.qualified} "${name}": Precondition failed: UID in precondition: ${String(uid)}, UID in object meta: ${String(existing?.metadata["uid"] ?? "")}`)
    }
    if (existing === undefined) {
      // AS store.go:714-717: no create on update -> 404; else the create path (L736-785), answered 201.
      if (!k.createOnUpdate) return notFound()
      const { resourceVersion: _ignored, ...rest } = o.metadata
      return create(k, namespace, { ...o, metadata: { ...rest, name } }, client, method)
    }
    const rv = o.metadata["resourceVersion"]
    if (rv === undefined || rv === "" || rv === "0") {
      // AS store.go:799-805: an update without a resourceVersion, where the strategy does not allow it -> 422.
      if (!k.unconditionalUpdate) return invalid(k, name, ["metadata.resourceVersion: Invalid value: 0: must be specified for an update"])
    } else if (rv !== existing.metadata["resourceVersion"]) {
      // AS store.go:807-809 and L263: the optimistic lock -> 409 Conflict.
      return status(409, "Conflict", `Operation cannot be fulfilled on ${k.qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name,
        ...(k.group === "" ? {} : { group: k.group }),
        kind: k.resource
      })
    }
    const problem = decodeProblem(k, o)
    if (problem !== undefined) return status(400, "BadRequest", problem)
    const causes = validate(k, o)
    if (causes.length > 0) return invalid(k, name, causes)
    const saved = stored(k, namespace, name, o, existing)
    objects.set(key, saved)
    writes.push({ at: now(), client, method, resource: k.resource, name, object: saved })
    return { status: 200, body: structuredClone(saved) }
  }

  return {
    handle,
    writes,
    /** The object as stored, or undefined. */
    get: (resource: "leases" | "configmaps", namespace: string, name: string): Obj | undefined => objects.get(`${resource}/${namespace}/${name}`),
    /** Changes an object behind everyone's back (another writer), bumping its resourceVersion. */
    touch: (resource: "leases" | "configmaps", namespace: string, name: string, change: (o: Obj) => Obj) => {
      const key = `${resource}/${namespace}/${name}`
      const o = objects.get(key)
      if (o === undefined) throw new Error(`no ${key}`)
      const changed = change(structuredClone(o))
      objects.set(key, { ...changed, metadata: { ...changed.metadata, resourceVersion: String(++version) } })
    }
  }
}

export type ApiServer = ReturnType<typeof makeApiServer>

/** A KubeClient that calls the server's logic directly (unit tests, TestClock); `down` makes every request fail as a network fault would. */
export const inMemoryClient = (server: ApiServer, token: string, state: { down: boolean } = { down: false }): KubeClient => ({
  server: "memory",
  source: "test",
  namespace: "default",
  request: (method, path, body) =>
    Effect.suspend(() =>
      state.down
        ? Effect.fail(new KubeFault({ message: "the Kubernetes API server memory: connection refused" }))
        : Effect.succeed(server.handle(method, path, body === undefined ? undefined : JSON.parse(JSON.stringify(body)), token))
    )
})

export interface RunningApiServer extends ApiServer {
  readonly url: string
  /** Requests with this client's token are held and never answered (a network partition), until `reconnect`. */
  readonly cutOff: (client: string) => void
  readonly reconnect: (client: string) => void
  /** Every request, for the tests' eyes: who, what, when. */
  readonly requests: Array<{ readonly at: number; readonly client: string; readonly method: string; readonly path: string; readonly status: number | "held" }>
  readonly close: () => Promise<void>
}

/** Serves the server's logic on 127.0.0.1. */
export const startApiServer = async (options: ApiServerOptions): Promise<RunningApiServer> => {
  const api = makeApiServer(options)
  const cut = new Set<string>()
  const requests: RunningApiServer["requests"] = []
  const held = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const auth = req.headers.authorization ?? ""
      const token = auth.startsWith("Bearer ") ? auth.slice(7) : undefined
      const client = (token === undefined ? undefined : options.tokens[token]) ?? "anonymous"
      if (cut.has(client)) {
        requests.push({ at: Date.now(), client, method: req.method ?? "", path: req.url ?? "", status: "held" })
        held.add(res)
        return
      }
      let body: unknown
      try {
        body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        body = null
      }
      const answer = body === null ? status(400, "BadRequest", "the body is not JSON") : api.handle(req.method ?? "GET", (req.url ?? "").split("?")[0]!, body, token)
      requests.push({ at: Date.now(), client, method: req.method ?? "", path: req.url ?? "", status: answer.status })
      res.writeHead(answer.status, { "content-type": "application/json" })
      res.end(JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as { port: number }).port
  return {
    ...api,
    url: `http://127.0.0.1:${port}`,
    cutOff: (client) => void cut.add(client),
    reconnect: (client) => void cut.delete(client),
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const res of held) res.destroy()
        server.close(() => r())
        server.closeAllConnections()
      })
  }
}

/** A kubeconfig for one client of the loopback server, as kubectl writes one. */
export const kubeconfigFor = (url: string, token: string, namespace = "default"): string =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: loopback",
    "    cluster:",
    `      server: ${url}`,
    "users:",
    "  - name: reporter",
    "    user:",
    `      token: ${token}`,
    "contexts:",
    "  - name: test",
    "    context:",
    "      cluster: loopback",
    "      user: reporter",
    `      namespace: ${namespace}`,
    "current-context: test",
    ""
  ].join("\n")
