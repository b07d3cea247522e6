/** The node:http Transport against real loopback servers (real time, short limits). */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AddressInfo } from "node:net"
import { fromFault } from "../src/PeerError.js"
import { type Limits, type Request, Transport } from "../src/Transport.js"
import * as NodeTransport from "../src/Transport/Node.js"
import { type Fault, misbehave } from "../demo/Simulator.js"
import { closedPort } from "./spawn.js"

const limits: Limits = { timeout: Duration.millis(500), maxBytes: 1024 * 1024 }

/** A loopback server for the length of one effect. */
const withServer = <A, E>(handler: http.RequestListener, use: (url: string) => Effect.Effect<A, E, Transport>) =>
  Effect.acquireUseRelease(
    Effect.promise(
      () =>
        new Promise<http.Server>((resolve) => {
          const server = http.createServer(handler)
          server.listen(0, "127.0.0.1", () => resolve(server))
        })
    ),
    (server) => use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    (server) => Effect.promise(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
  ).pipe(Effect.provide(NodeTransport.layer))

const exchange = (request: Request, l: Limits = limits) => Effect.flatMap(Transport, (t) => t.exchange(request, l))

const faultOf = (fault: Fault) =>
  withServer((req, res) => misbehave(fault, req, res), (url) => Effect.either(exchange({ method: "GET", url: `${url}/x`, headers: {} }))).pipe(
    Effect.map((r) => Either.getLeft(r).pipe(Option.getOrThrow))
  )

describe("NodeTransport", () => {
  it.live("requests the path WHATWG URL parsing gives, whether or not it takes the shortcut for plain paths", () =>
    Effect.gen(function* () {
      const seen: Array<{ url: string; authorization: string | undefined }> = []
      const paths = [
        "/v1/health?service=a%20b&environment=prod&from=2024-01-20T12%3A00%3A00Z",
        "/a/../b/./c?x=1",
        "/q?name=it's here|there",
        "/caf\u00e9/x",
        ""
      ]
      yield* withServer(
        (req, res) => (seen.push({ url: req.url!, authorization: req.headers.authorization }), res.end("ok")),
        (url) => Effect.forEach([...paths.map((p) => `${url}${p}`), url.replace("//", "//user:p%40ss@") + "/auth"], (u) => exchange({ method: "GET", url: u, headers: {} }))
      )
      const expected = paths.map((p) => {
        const u = new URL(`http://h${p}`)
        return `${u.pathname}${u.search}`
      })
      expect(seen.map((s) => s.url)).toEqual([...expected, "/auth"])
      expect(seen.at(-1)!.authorization).toBe(`Basic ${Buffer.from("user:p@ss").toString("base64")}`)
    })
  )

  it.live("sends method, headers and body, and returns status, lower-case headers and body", () =>
    Effect.gen(function* () {
      const seen: Array<{ method: string; headers: http.IncomingHttpHeaders; body: string }> = []
      const reply = yield* withServer(
        (req, res) => {
          let body = ""
          req.on("data", (c: Buffer) => (body += c.toString()))
          req.on("end", () => {
            seen.push({ method: req.method!, headers: req.headers, body })
            res.writeHead(201, { "X-Answer": "yes", "Content-Type": "application/json" })
            res.end('{"ok":true}')
          })
        },
        (url) => exchange({ method: "POST", url: `${url}/api/incidents`, headers: { authorization: "Bearer t", "content-type": "application/json" }, body: '{"a":"é"}' })
      )
      expect(reply).toMatchObject({ status: 201, body: '{"ok":true}' })
      expect(reply.headers["x-answer"]).toBe("yes")
      expect(seen[0]).toMatchObject({ method: "POST", body: '{"a":"é"}' })
      expect(seen[0]!.headers["content-length"]).toBe(String(Buffer.byteLength('{"a":"é"}')))
      expect(seen[0]!.headers["authorization"]).toBe("Bearer t")
    })
  )

  it.live("does not follow a redirect", () =>
    Effect.gen(function* () {
      const reply = yield* withServer((req, res) => misbehave("redirect-loop", req, res), (url) => exchange({ method: "GET", url: `${url}/v1/health`, headers: {} }))
      expect(reply.status).toBe(302)
      expect(reply.headers["location"]).toBe("/v1/health")
    })
  )

  it.live("refuses a body whose declared length is over the cap, before reading it", () =>
    Effect.gen(function* () {
      const error = yield* withServer(
        (_, res) => {
          res.writeHead(200, { "content-length": String(2 * 1024 * 1024) })
          res.write("x")
        },
        (url) => Effect.flip(exchange({ method: "GET", url, headers: {} }))
      )
      expect(error).toMatchObject({ kind: "TooLarge", detail: "the response body exceeds 1024 KiB" })
    })
  )

  it.live("stops reading a streamed 50 MB body at the cap", () =>
    Effect.gen(function* () {
      let written = 0
      const error = yield* withServer(
        (_, res) => {
          res.writeHead(200)
          const chunk = Buffer.alloc(64 * 1024, 32)
          const pump = () => {
            while (written < 50 * 1024 * 1024 && !res.destroyed) {
              written += chunk.length
              if (!res.write(chunk)) return void res.once("drain", pump)
            }
          }
          pump()
        },
        (url) => Effect.flip(exchange({ method: "GET", url, headers: {} }))
      )
      expect(error.kind).toBe("TooLarge")
      expect(written).toBeLessThan(20 * 1024 * 1024)
    })
  )

  it.live("names each broken answer", () =>
    Effect.gen(function* () {
      expect(yield* faultOf("truncated")).toMatchObject({ kind: "Reset", detail: "the response body was cut short" })
      expect((yield* faultOf("reset")).kind).toBe("Reset")
      expect(yield* faultOf("not-http")).toMatchObject({ kind: "NotHttp", detail: "the peer's answer is not HTTP" })
      expect(yield* faultOf("hang")).toMatchObject({ kind: "Timeout", detail: "no complete answer within 500ms" })
      expect((yield* faultOf("drip")).kind).toBe("Timeout")
    })
  )

  it.live("says connection refused when nobody listens", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const error = yield* Effect.flip(exchange({ method: "GET", url: `http://127.0.0.1:${port}/`, headers: {} })).pipe(Effect.provide(NodeTransport.layer))
      expect(error).toMatchObject({ kind: "Refused", detail: "connection refused" })
    })
  )
})

describe("NodeTransport, answers whose body we do not need", () => {
  it.live("with oversize: truncate, a 2xx past the cap is the answer, and the rest is never read", () =>
    Effect.gen(function* () {
      let written = 0
      const reply = yield* withServer(
        (_, res) => {
          res.writeHead(200)
          const chunk = Buffer.alloc(64 * 1024, 111)
          const pump = () => {
            while (written < 50 * 1024 * 1024 && !res.destroyed) {
              written += chunk.length
              if (!res.write(chunk)) return void res.once("drain", pump)
            }
          }
          pump()
        },
        (url) => exchange({ method: "POST", url, headers: {}, body: "{}" }, { ...limits, maxBytes: 64 * 1024, oversize: "truncate" })
      )
      expect(reply.status).toBe(200)
      expect(reply.body.length).toBe(64 * 1024)
      expect(written).toBeLessThan(20 * 1024 * 1024)
    })
  )

  it.live("with oversize: truncate, a declared length past the cap is not waited for", () =>
    Effect.gen(function* () {
      const reply = yield* withServer(
        (_, res) => {
          res.writeHead(201, { "content-length": String(2 * 1024 * 1024) })
          res.write("x")
        },
        (url) => exchange({ method: "POST", url, headers: {}, body: "{}" }, { ...limits, oversize: "truncate" })
      )
      expect(reply.status).toBe(201)
    })
  )
})

describe("NodeTransport over TLS", () => {
  /** A self-signed certificate for 127.0.0.1, made for this run. */
  const selfSigned = () => {
    const dir = mkdtempSync(join(tmpdir(), "cmr-tls-"))
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" })
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }
  }

  it.live("a certificate the system does not trust is a fault of its own, not retryable, saying how to trust a private CA", () =>
    Effect.gen(function* () {
      const server = https.createServer(selfSigned(), (_, res) => res.end("{}"))
      yield* Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)))
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/health`
      const error = yield* Effect.flip(exchange({ method: "GET", url, headers: {} })).pipe(
        Effect.provide(NodeTransport.layer),
        Effect.ensuring(Effect.promise(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())))))
      )
      expect(error.kind).toBe("Tls")
      expect(error.detail).toContain("self-signed")
      expect(error.detail).toContain("NODE_EXTRA_CA_CERTS")
      expect(fromFault(error)).toMatchObject({ reason: "Unavailable", retryable: false })
    })
  )
})

describe("NodeTransport, a request Node refuses to make", () => {
  it.live("is a fault that names no URL and is not retried, never a crash", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(exchange({ method: "POST", url: "not-a-url/with-a-secret-token", headers: {} })).pipe(Effect.provide(NodeTransport.layer))
      expect(bad.kind).toBe("Invalid")
      expect(bad.detail).not.toContain("secret-token")
      expect(fromFault(bad).retryable).toBe(false)
      const header = yield* Effect.flip(exchange({ method: "GET", url: "http://127.0.0.1:1/", headers: { "x-bad\nheader": "v" } })).pipe(Effect.provide(NodeTransport.layer))
      expect(header.kind).toBe("Invalid")
      // The timer that would have ended it was never started: nothing fires later.
      yield* Effect.sleep("600 millis")
    })
  )
})
