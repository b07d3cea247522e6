import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { fromFault, fromReply, peerMessage } from "../src/PeerError.js"
import { HttpFault } from "../src/Transport.js"

describe("peerMessage", () => {
  it("uses the peer's message field and never repeats a token it echoes", () => {
    expect(peerMessage('{"message": "Service not supported"}')).toBe("Service not supported")
    expect(peerMessage('{"errMsg": "not authenticated"}')).toBe("not authenticated")
    const echoed = peerMessage('bad token: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzZXJ2aWNlIjoiYXBpIn0.c2lnbmF0dXJl here')
    expect(echoed).not.toMatch(/eyJ|c2lnbmF0dXJl/)
    expect(echoed).toContain("[token]")
  })
})

describe("what a failed answer means, for every peer alike", () => {
  const reply = (status: number, body = "", headers: Record<string, string> = {}) => ({ status, headers, body })

  it("408, 429 and 5xx are worth retrying, after Retry-After when given; other statuses are final", () => {
    expect(fromReply(reply(503, '{"message":"down"}'), "x.url", 0)).toMatchObject({ reason: "Unavailable", retryable: true, status: 503, detail: "answered 503: down" })
    expect(fromReply(reply(429, "", { "retry-after": "7" }), "x.url", 0).retryAfter).toEqual(Option.some(Duration.seconds(7)))
    expect(fromReply(reply(404, '{"message":"nope"}'), "x.url", 0)).toMatchObject({ reason: "Rejected", retryable: false, detail: "nope" })
    expect(fromReply(reply(302, "", { location: "/elsewhere" }), "convertor.url", 0).detail).toBe(
      "redirected to /elsewhere; redirects are not followed, point convertor.url at the final address"
    )
  })

  it("faults below HTTP: what more tries can fix is retryable, what cannot is not", () => {
    const of = (kind: HttpFault["kind"]) => fromFault(new HttpFault({ kind, detail: kind }))
    expect(of("Refused")).toMatchObject({ reason: "Unavailable", retryable: true })
    expect(of("Timeout")).toMatchObject({ reason: "Timeout", retryable: true })
    expect(of("TooLarge")).toMatchObject({ reason: "BadResponse", retryable: false })
    expect(of("NotHttp")).toMatchObject({ reason: "BadResponse", retryable: false })
    expect(of("Tls")).toMatchObject({ reason: "Unavailable", retryable: false })
  })
})
