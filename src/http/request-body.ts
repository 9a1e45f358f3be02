// Reading a request body. Once the request was accepted, a read can only fail because the client went
// away mid-upload: that is not the orchestrator failing, so it is reported as such (a 499 nobody
// reads, logged as a disconnect), never as a 500 that would page someone.

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";

export class ClientDisconnectedError extends Error {
  constructor(cause: unknown) {
    super(`The client went away while sending the request: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "ClientDisconnectedError";
  }
}

/** Runs a body read; a failure that is not one of our own HTTP errors means the client is gone. */
export async function whileReadingBody<Value>(read: () => Promise<Value>): Promise<Value> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof HTTPException) throw error;
    throw new ClientDisconnectedError(error);
  }
}

export function readBodyText(c: Context): Promise<string> {
  return whileReadingBody(() => c.req.text());
}

export function readBodyBytes(c: Context): Promise<ArrayBuffer> {
  return whileReadingBody(() => c.req.arrayBuffer());
}
