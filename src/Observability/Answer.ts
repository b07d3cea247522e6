/** What one request to the endpoint is answered: decided in Observability.ts, sent by Observability/Server.ts. */
export interface Answer {
  readonly status: number
  readonly body: string
  readonly type?: string
}

/** One line of JSON. */
export const json = (status: number, value: Record<string, unknown>): Answer => ({ status, body: `${JSON.stringify(value)}\n`, type: "application/json" })
