/**
 * The Kubernetes API, as much of it as high availability needs (one Lease,
 * one ConfigMap): where the API server is and how to prove who we are, and
 * one bounded JSON exchange over our own transport (Transport/Node.ts) with
 * connection pools of its own that trust the cluster's CA.
 *
 * Where it is, in kubectl's and client-go's order of precedence:
 * - `KUBECONFIG`, when set: the first file it names, its current context's
 *   cluster (`server`, `certificate-authority` or `-data`,
 *   `insecure-skip-tls-verify`) and user (`token` or `tokenFile`); an
 *   `http://` server is taken as it is (tests, development).
 * - else in a pod: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service
 *   account's files (client-go rest.InClusterConfig): the token (re-read
 *   when older than a minute, as client-go's cached file token source does,
 *   so a rotated token is taken up), the CA, the namespace.
 * Client certificates and exec plugins are not supported (a service
 * account's token is what a pod has); the message says so.
 *
 * The token is `Redacted` from the file to the header: no log line, error or
 * file ever holds it.
 */
import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { dirname, resolve } from "node:path"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as YAML from "yaml"
import { safeUrl } from "../Domain.js"
import type { HttpFault } from "../Transport.js"
import { exchangeVia } from "../Transport/Node.js"

/** Where a pod's service account is mounted (client-go rest/config.go, InClusterConfig). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/** client-go re-reads a token file at most once a minute (transport/token_source.go, NewCachedFileTokenSource). */
const TOKEN_REREAD_MS = 60_000

/** A ConfigMap is at most 1 MiB; an answer holding one is a little more. */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024

/** Why the API server cannot be reached at all: a configuration problem, said at start-up. */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{ readonly message: string }> {}

/** One exchange that did not come back: the network, or an answer that is not JSON. */
export class KubeFault extends Data.TaggedError("KubeFault")<{ readonly message: string }> {}

export interface KubeAnswer {
  readonly status: number
  /** The JSON body; undefined when there was none. */
  readonly body: unknown
}

export interface KubeClient {
  /** Where the API server is, for log lines (no credential in it). */
  readonly server: string
  /** Where the credentials came from: "the pod's service account", or "kubeconfig <file> (context <name>)". */
  readonly source: string
  /** The namespace of the context or of the pod, when there is one. */
  readonly namespace: string | undefined
  readonly request: (method: "GET" | "POST" | "PUT", path: string, body: unknown, timeout: Duration.Duration) => Effect.Effect<KubeAnswer, KubeFault>
}

export interface Connection {
  readonly server: string
  readonly source: string
  readonly namespace: string | undefined
  readonly token: () => Redacted.Redacted<string> | undefined
  readonly tls: { readonly ca?: Buffer; readonly insecure: boolean }
}

const text = (file: string): string => readFileSync(file, "utf8").trim()

/** A token read from a file, again when it is older than a minute (a projected token rotates). */
export const tokenFile = (file: string, now: () => number = Date.now) => {
  let cached: { token: Redacted.Redacted<string>; at: number } | undefined
  return () => {
    if (cached === undefined || now() - cached.at >= TOKEN_REREAD_MS) {
      try {
        cached = { token: Redacted.make(text(file)), at: now() }
      } catch {
        // A token that cannot be read now: the last one is used (the API server says 401 if it is stale).
      }
    }
    return cached?.token
  }
}

const problem = (message: string) => new KubeConfigError({ message })

const inCluster = (env: Record<string, string | undefined>, dir: string): Connection => {
  const host = env["KUBERNETES_SERVICE_HOST"]!
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443"
  let ca: Buffer
  try {
    ca = readFileSync(`${dir}/ca.crt`)
    text(`${dir}/token`)
  } catch {
    throw problem(
      `ha: running in a pod (KUBERNETES_SERVICE_HOST is set) but the service account's token and CA are not in ${dir}: set automountServiceAccountToken: true on the pod (or its ServiceAccount), as the ha overlay does`
    )
  }
  let namespace: string | undefined
  try {
    namespace = text(`${dir}/namespace`)
  } catch {
    namespace = undefined
  }
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    source: "the pod's service account",
    namespace,
    token: tokenFile(`${dir}/token`),
    tls: { ca, insecure: false }
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The entry named `name` of a kubeconfig list (`clusters`, `users`, `contexts`), its inner mapping. */
const named = (doc: Record<string, unknown>, list: string, inner: string, name: unknown): Record<string, unknown> | undefined => {
  const items = Array.isArray(doc[list]) ? (doc[list] as Array<unknown>) : []
  const item = items.find((i) => isRecord(i) && i["name"] === name)
  return isRecord(item) && isRecord(item[inner]) ? item[inner] : undefined
}

const fromKubeconfig = (list: string): Connection => {
  // kubectl merges every file of the list; the first is where a context normally lives.
  const file = list.split(":").find((f) => f !== "")
  if (file === undefined) throw problem("ha: KUBECONFIG is set but names no file")
  let doc: unknown
  try {
    doc = YAML.parse(readFileSync(file, "utf8"))
  } catch (e) {
    throw problem(`ha: the kubeconfig ${file} (KUBECONFIG) cannot be read (${(e as NodeJS.ErrnoException).code ?? "not YAML"}): point KUBECONFIG at a kubeconfig file`)
  }
  const bad = (what: string) => problem(`ha: the kubeconfig ${file} (KUBECONFIG) ${what}`)
  if (!isRecord(doc)) throw bad("is not a kubeconfig (a mapping with clusters, users and contexts)")
  const contextName = doc["current-context"]
  const context = named(doc, "contexts", "context", contextName)
  if (context === undefined) throw bad(`has no current-context, or no context named ${JSON.stringify(contextName)}: run kubectl config use-context <name>`)
  const cluster = named(doc, "clusters", "cluster", context["cluster"])
  const server = cluster?.["server"]
  if (cluster === undefined || typeof server !== "string" || !/^https?:\/\/[^/]/.test(server)) {
    throw bad(`has no cluster ${JSON.stringify(context["cluster"])} with a server URL (https://host:port) for context ${JSON.stringify(contextName)}`)
  }
  const user = named(doc, "users", "user", context["user"]) ?? {}
  if (user["client-certificate"] !== undefined || user["client-certificate-data"] !== undefined || user["exec"] !== undefined || user["auth-provider"] !== undefined) {
    if (user["token"] === undefined && user["tokenFile"] === undefined) {
      throw bad(`authenticates user ${JSON.stringify(context["user"])} with a client certificate or a plugin, which the reporter does not support: give it a bearer token (token or tokenFile), such as a service account's`)
    }
  }
  const here = (path: string) => resolve(dirname(file), path)
  let ca: Buffer | undefined
  try {
    ca =
      typeof cluster["certificate-authority-data"] === "string"
        ? Buffer.from(cluster["certificate-authority-data"], "base64")
        : typeof cluster["certificate-authority"] === "string"
          ? readFileSync(here(cluster["certificate-authority"]))
          : undefined
  } catch {
    throw bad(`names a certificate-authority ${String(cluster["certificate-authority"])} that cannot be read`)
  }
  const token =
    typeof user["token"] === "string"
      ? ((t: Redacted.Redacted<string>) => () => t)(Redacted.make(user["token"]))
      : typeof user["tokenFile"] === "string"
        ? tokenFile(here(user["tokenFile"]))
        : () => undefined
  const namespace = typeof context["namespace"] === "string" && context["namespace"] !== "" ? context["namespace"] : undefined
  return {
    server: server.replace(/\/+$/, ""),
    source: `kubeconfig ${file} (context ${String(contextName)})`,
    namespace,
    token,
    tls: { ...(ca === undefined ? {} : { ca }), insecure: cluster["insecure-skip-tls-verify"] === true }
  }
}

/** The connection these variables and files describe, or what is missing and how to give it. */
export const connection = (env: Record<string, string | undefined>, serviceAccountDir = SERVICE_ACCOUNT_DIR): Effect.Effect<Connection, KubeConfigError> =>
  Effect.try({
    try: () => {
      if (env["KUBECONFIG"] !== undefined && env["KUBECONFIG"] !== "") return fromKubeconfig(env["KUBECONFIG"])
      if (env["KUBERNETES_SERVICE_HOST"] !== undefined && env["KUBERNETES_SERVICE_HOST"] !== "") return inCluster(env, serviceAccountDir)
      throw problem(
        "ha needs the Kubernetes API, and this is neither a pod (KUBERNETES_SERVICE_HOST is not set) nor given a kubeconfig: run it in the cluster, or set KUBECONFIG (outside a cluster, for development), or remove the ha section"
      )
    },
    catch: (e) => (e instanceof KubeConfigError ? e : problem(`ha: ${String(e)}`))
  })

const faultMessage = (server: string, f: HttpFault) => `the Kubernetes API server ${safeUrl(server)}: ${f.detail}`

/** A client over `connection`, its connection pools closed with the scope. */
export const client = (c: Connection) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const tls = { ...(c.tls.ca === undefined ? {} : { ca: c.tls.ca }), rejectUnauthorized: !c.tls.insecure }
        return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true, ...tls }) }
      }),
      (a) => Effect.sync(() => (a.http.destroy(), a.https.destroy()))
    ),
    (agents): KubeClient => {
      const exchange = exchangeVia(agents)
      return {
        server: c.server,
        source: c.source,
        namespace: c.namespace,
        request: (method, path, body, timeout) =>
          Effect.suspend(() => {
            const token = c.token()
            return exchange(
              {
                method,
                url: `${c.server}${path}`,
                headers: {
                  accept: "application/json",
                  ...(body === undefined ? {} : { "content-type": "application/json" }),
                  ...(token === undefined ? {} : { authorization: `Bearer ${Redacted.value(token)}` })
                },
                ...(body === undefined ? {} : { body: JSON.stringify(body) })
              },
              { timeout, maxBytes: MAX_ANSWER_BYTES }
            )
          }).pipe(
            Effect.mapError((f) => new KubeFault({ message: faultMessage(c.server, f) })),
            Effect.flatMap((reply) => {
              if (reply.body.trim() === "") return Effect.succeed({ status: reply.status, body: undefined })
              try {
                return Effect.succeed({ status: reply.status, body: JSON.parse(reply.body) as unknown })
              } catch {
                return Effect.fail(new KubeFault({ message: `the Kubernetes API server ${safeUrl(c.server)} answered ${reply.status} with a body that is not JSON (is this the API server?)` }))
              }
            })
          )
      }
    }
  )

/** The API server's own words for a failed request (a Status object's message), or the code alone. */
export const statusMessage = (answer: KubeAnswer): string => {
  const message = isRecord(answer.body) && typeof answer.body["message"] === "string" ? answer.body["message"].slice(0, 300) : undefined
  const hint =
    answer.status === 401
      ? " (the token is not accepted: is the service account's token mounted and current?)"
      : answer.status === 403
        ? " (forbidden: the Role must grant get, create and update on this object, as the ha overlay's does)"
        : ""
  return `${answer.status}${message === undefined ? "" : ` ${message}`}${hint}`
}

