// The offline model as a Worker: OpenAI chat completions (streaming included) for its own host, and a
// plain pass-through for every other request, so it can sit as the orchestrator's outbound service
// (`npm start` without a key, the integration tests) and the orchestrator just talks to "DMXAPI".

import { completionToSse } from "../../src/protocol/completion-chunks.js";
import type { ChatMessage, FunctionToolDefinition } from "../../src/protocol/types.js";
import { isJsonObject } from "../../src/protocol/types.js";
import { respond } from "./model.js";

interface Env {
  /** The host it answers as a model (wrangler.toml); every other host is passed through. */
  MODEL_HOST: string;
}

function error(status: number, message: string): Response {
  return Response.json({ error: { message, type: "invalid_request_error", param: null, code: null } }, { status });
}

export async function handleModelRequest(request: Request): Promise<Response> {
  if (request.method !== "POST" || !new URL(request.url).pathname.endsWith("/chat/completions")) {
    return error(404, `The offline model answers POST /v1/chat/completions only, not ${request.method} ${new URL(request.url).pathname}.`);
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return error(400, "The body is not JSON.");
  }
  if (!isJsonObject(body) || !Array.isArray(body.messages)) return error(400, "The body needs a messages array.");
  const completion = respond({
    model: typeof body.model === "string" ? body.model : undefined,
    messages: body.messages as ChatMessage[],
    tools: Array.isArray(body.tools) ? (body.tools as FunctionToolDefinition[]) : [],
    tool_choice: body.tool_choice,
  });
  if (body.stream !== true) return Response.json(completion);
  const includeUsage = isJsonObject(body.stream_options) && body.stream_options.include_usage === true;
  return new Response(completionToSse(completion, { includeUsage, pieceSize: 24 }), { headers: { "Content-Type": "text/event-stream" } });
}

export default {
  fetch(request, env) {
    if (new URL(request.url).hostname === env.MODEL_HOST) return handleModelRequest(request);
    // Webhook callbacks and anything else the orchestrator sends out go where they were going.
    return fetch(request);
  },
} satisfies ExportedHandler<Env>;
