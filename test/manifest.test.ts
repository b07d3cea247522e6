/** deploy/kubernetes.yaml: what it promises, checked against the program and the image. */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { load } from "../src/Config.js"
import { dockerfile, parseDockerfile } from "./image.js"

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const docs = YAML.parseAllDocuments(readFileSync("deploy/kubernetes.yaml", "utf8")).map((d) => d.toJS() as Doc)
const byKind = (kind: string) => docs.filter((d) => d["kind"] === kind)
const deployment = byKind("Deployment")[0]!
const pod = deployment["spec"]["template"]["spec"]
const container = pod["containers"][0]
const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number.NaN)

describe("the Kubernetes manifest", () => {
  it("is a ConfigMap and one Recreate Deployment, with no PodDisruptionBudget that could not do anything", () => {
    expect(docs.map((d) => d["kind"])).toEqual(["ConfigMap", "Deployment"])
    expect(deployment["spec"]).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } })
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
    // Measured (bench/results.md): 83 MB idle on the image's Node 26; 143 MB peak at 1000 services and a 1 s interval.
    expect(mebibytes(requests["memory"])).toBeGreaterThanOrEqual(83 * 1.25)
    expect(mebibytes(limits["memory"])).toBeGreaterThanOrEqual(143 * 1.5)
  })

  it("says how a configuration change is rolled out: a reload by SIGHUP, or a restart", () => {
    const text = readFileSync("deploy/kubernetes.yaml", "utf8")
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
