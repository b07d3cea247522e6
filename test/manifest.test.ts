/**
 * deploy/kustomize: the base (one replica) and the ha overlay, rendered by
 * the real `kubectl kustomize` (Debian's kubernetes-client), checked against
 * the program (its configuration loads with the program's loader) and the image.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { load } from "../src/Config.js"
import { dockerfile, parseDockerfile } from "./image.js"

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const render = (dir: string): ReadonlyArray<Doc> =>
  // stderr piped: a newer kubectl notes the kustomize v2 field names the overlay keeps for Debian's kubectl 1.20.
  YAML.parseAllDocuments(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).map((d) => d.toJS() as Doc)
const docs = render("deploy/kustomize/base")
const byKind = (kind: string, from: ReadonlyArray<Doc> = docs) => from.filter((d) => d["kind"] === kind)
const deployment = byKind("Deployment")[0]!
const pod = deployment["spec"]["template"]["spec"]
const container = pod["containers"][0]
const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number.NaN)

describe("the Kubernetes manifest", () => {
  it("the base: a generated ConfigMap, the metrics Service, one Recreate Deployment, a NetworkPolicy; no RBAC, no PodDisruptionBudget that could not do anything", () => {
    expect(docs.map((d) => d["kind"]).sort()).toEqual(["ConfigMap", "Deployment", "NetworkPolicy", "Service"])
    expect(deployment["spec"]).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } })
    // The generated name (with its hash) is the one the pod mounts: a changed configuration rolls out by itself.
    expect(pod["volumes"].find((v: Doc) => v["name"] === "config")["configMap"]["name"]).toBe(byKind("ConfigMap")[0]!["metadata"]["name"])
  })

  it("the NetworkPolicy admits only the metrics port (the scrape and the probes), and the Service exposes it", () => {
    const policy = byKind("NetworkPolicy")[0]!["spec"]
    expect(policy["podSelector"]["matchLabels"]).toEqual(deployment["spec"]["selector"]["matchLabels"])
    expect(policy["policyTypes"]).toEqual(["Ingress"])
    expect(policy["ingress"]).toEqual([{ ports: [{ port: "metrics", protocol: "TCP" }] }])
    expect(byKind("Service")[0]!["spec"]["ports"]).toEqual([{ name: "metrics", port: 9464, targetPort: "metrics", protocol: "TCP" }])
  })

  it("runs the image's command by name, as the upstream example does", () => {
    expect(container["command"]).toEqual(["cloudmon-metrics-reporter"])
    const [, runtime] = parseDockerfile(dockerfile())
    const cmd = JSON.parse(runtime!.steps.find((s) => s.op === "CMD")!.args) as ReadonlyArray<string>
    expect(cmd[0]).toBe(container["command"][0])
  })

  it("takes the secret from one place, a mounted file; mounts no service account token", () => {
    expect(pod["automountServiceAccountToken"]).toBe(false)
    expect(container["env"] ?? []).toEqual([])
    const config = YAML.parse(byKind("ConfigMap")[0]!["data"]["config.yaml"]) as Doc
    const secretMount = container["volumeMounts"].find((m: Doc) => pod["volumes"].find((v: Doc) => v["name"] === m["name"])?.["secret"])
    expect(config["status_dashboard"]["secret_file"]).toBe(`${secretMount["mountPath"]}/dashboard-secret`)
    expect(config["status_dashboard"]).not.toHaveProperty("secret")
  })

  it("its configuration loads, with the secret file where the Secret is mounted", async () => {
    const text = byKind("ConfigMap")[0]!["data"]["config.yaml"] as string
    const dir = mkdtempSync(join(tmpdir(), "cmr-k8s-"))
    writeFileSync(join(dir, "dashboard-secret"), "a-secret-that-is-long-enough-for-hs256-0123\n")
    writeFileSync(join(dir, "config.yaml"), text.replace("/run/secrets/cloudmon/dashboard-secret", join(dir, "dashboard-secret")))
    const loaded = await Effect.runPromise(
      load(join(dir, "config.yaml"), {}).pipe(Effect.either, Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))
    )
    expect(loaded._tag).toBe("Right")
    expect(container["args"]).toEqual(["--config", "/etc/cloudmon-metrics-reporter/config.yaml", "--log-format", "json"])
  })

  it("asks for memory from the measured figures, with headroom", () => {
    const { requests, limits } = container["resources"]
    // Measured (bench/results.md): 66 MB idle on the image's Node 26 with its command (after 12 cycles; 62 MB
    // settled after one), about 5 MB more with the metrics endpoint the base turns on (README); peaks up to
    // 155 MB at 1000 services and a 1 s interval (Node 20), 98 MB on the image's command, 207 MB without its settings.
    expect(mebibytes(requests["memory"])).toBeGreaterThanOrEqual(71 * 1.25)
    expect(mebibytes(limits["memory"])).toBeGreaterThanOrEqual(155 * 1.5)
  })

  it("says how a configuration change is rolled out: by itself (the generator), a reload by SIGHUP, or a restart", () => {
    const text = readFileSync("deploy/kustomize/base/kustomization.yaml", "utf8")
    expect(text).toContain("rolls it out by itself")
    expect(text).toMatch(/kubectl rollout restart deployment\/cloudmon-metrics-reporter/)
    expect(text).toContain("kubectl exec deployment/cloudmon-metrics-reporter -- sh -c 'kill -HUP 1'")
  })

  it("probes /healthz and /readyz and is scraped on the port the configuration listens on", () => {
    const config = YAML.parse(byKind("ConfigMap")[0]!["data"]["config.yaml"]) as Doc
    const port = Number(/:(\d+)$/.exec(config["observability"]["listen"])![1])
    expect(config["observability"]["listen"]).toBe(`:${port}`)
    expect(container["ports"]).toEqual([{ name: "metrics", containerPort: port }])
    expect(container["livenessProbe"]["httpGet"]).toEqual({ path: "/healthz", port: "metrics" })
    expect(container["readinessProbe"]["httpGet"]).toEqual({ path: "/readyz", port: "metrics" })
    // Three failed probes 30 s apart: a stuck loop is restarted within two minutes of /healthz saying so.
    expect(container["livenessProbe"]).toMatchObject({ periodSeconds: 30, failureThreshold: 3 })
    expect(deployment["spec"]["template"]["metadata"]["annotations"]).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(port),
      "prometheus.io/path": "/metrics"
    })
  })
})

describe("the ha overlay", () => {
  const ha = render("deploy/kustomize/overlays/ha")
  const dep = byKind("Deployment", ha)[0]!
  const spec = dep["spec"]["template"]["spec"]
  const configMap = byKind("ConfigMap", ha)[0]!

  it("two replicas spread over nodes and zones, a rollout that starts the new pod first, a PodDisruptionBudget keeping one", () => {
    expect(ha.map((d) => d["kind"]).sort()).toEqual(["ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "ServiceAccount"])
    expect(dep["spec"]).toMatchObject({ replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } })
    const selector = dep["spec"]["selector"]
    expect(spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]).toEqual({ topologyKey: "kubernetes.io/hostname", labelSelector: selector })
    expect(spec["topologySpreadConstraints"][0]).toMatchObject({ topologyKey: "topology.kubernetes.io/zone", labelSelector: selector })
    expect(byKind("PodDisruptionBudget", ha)[0]!["spec"]).toEqual({ minAvailable: 1, selector })
  })

  it("its configuration loads with ha on; the Role grants get and update on exactly its Lease and its state's ConfigMap, create on those kinds only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmr-k8s-ha-"))
    mkdirSync(join(dir, "conf.d"))
    const items = spec["volumes"].find((v: Doc) => v["name"] === "config")["configMap"]["items"] as ReadonlyArray<{ key: string; path: string }>
    expect(spec["volumes"].find((v: Doc) => v["name"] === "config")["configMap"]["name"]).toBe(configMap["metadata"]["name"])
    for (const item of items) writeFileSync(join(dir, item.path), (configMap["data"][item.key] as string).replace("/run/secrets/cloudmon/dashboard-secret", join(dir, "secret")))
    writeFileSync(join(dir, "secret"), "a-secret-that-is-long-enough-for-hs256-0123\n")
    const loaded = await Effect.runPromise(load(join(dir, "config.yaml"), {}).pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))))
    const lease = loaded.config.ha!.lease
    expect(lease).toMatchObject({ name: "cloudmon-metrics-reporter" })
    expect(loaded.config.ha!.state).toBe("configmap")
    const rules = byKind("Role", ha)[0]!["rules"] as ReadonlyArray<Doc>
    expect(rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [lease.name], verbs: ["get", "update"] },
      { apiGroups: [""], resources: ["configmaps"], resourceNames: [`${lease.name}-state`], verbs: ["get", "update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] }
    ])
    const binding = byKind("RoleBinding", ha)[0]!
    expect(binding["subjects"]).toEqual([{ kind: "ServiceAccount", name: spec["serviceAccountName"] }])
    expect(binding["roleRef"]["name"]).toBe(byKind("Role", ha)[0]!["metadata"]["name"])
  })

  it("mounts the service account's token and names each pod (the holder identity) and its namespace (the Lease's)", () => {
    expect(spec["automountServiceAccountToken"]).toBe(true)
    expect(spec["containers"][0]["env"]).toEqual([
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }
    ])
  })

  it("the optional PodMonitor renders beside an overlay, and scrapes the replicas' metrics port", () => {
    const dir = mkdtempSync(join(process.cwd(), "deploy/kustomize/.test-"))
    try {
      writeFileSync(join(dir, "kustomization.yaml"), "bases: [../overlays/ha, ../podmonitor]\n")
      const monitor = byKind("PodMonitor", render(dir))[0]!
      expect(monitor["spec"]).toEqual({ selector: dep["spec"]["selector"], podMetricsEndpoints: [{ port: "metrics", path: "/metrics", interval: "30s" }] })
    } finally {
      execFileSync("rm", ["-rf", dir])
    }
  })
})
