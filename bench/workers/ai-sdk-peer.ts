// The peer for the bench's one-tool scenario: the same model → tool → model loop, run in-process by the
// Vercel AI SDK inside one Worker. `generateText` with an OpenAI-compatible provider pointed at the
// bench's mock upstream, and a `calculate` tool that runs the calculator tool Worker's own evaluator
// in-process (no service binding, no discovery). Like the orchestrator it is paired with, it offers the
// model one tool and stores the turn (input and reply messages, one put) in an in-memory KV before it
// answers. Bundled by scripts/bench/build.mjs.
//
// POST / with an OpenAI chat request body ({ messages: [...] }); answers with an OpenAI-shaped
// chat.completion holding the final text.

import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { ModelMessage } from "ai";
import { generateText, stepCountIs, tool } from "ai";
import * as z from "zod";
import { evaluate, formatNumber } from "../../tools/calculator/calculator.js";
import { MemoryKV } from "./lib/memory-kv.mjs";

interface Env {
  UPSTREAM_BASE_URL: string;
  UPSTREAM_API_KEY: string;
  UPSTREAM_MODEL?: string;
}

const calculate = tool({
  description: "Evaluate an arithmetic expression and return the numeric result.",
  inputSchema: z.object({ expression: z.string().min(1).max(1000) }),
  execute: async ({ expression }) => {
    const value = evaluate(expression);
    return { expression, value, formatted: formatNumber(value) };
  },
});

const conversations = new MemoryKV();

let provider: ReturnType<typeof createOpenAICompatible> | null = null;
let providerKey = "";

function providerFor(env: Env) {
  const key = `${env.UPSTREAM_BASE_URL}\n${env.UPSTREAM_API_KEY}`;
  if (!provider || key !== providerKey) {
    provider = createOpenAICompatible({ name: "dmxapi", baseURL: env.UPSTREAM_BASE_URL, apiKey: env.UPSTREAM_API_KEY });
    providerKey = key;
  }
  return provider;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== "POST") return new Response("POST an OpenAI chat request", { status: 405 });
    const body = (await request.json()) as { model?: string; messages?: ModelMessage[] };
    const model = body.model ?? env.UPSTREAM_MODEL ?? "gpt-5-mini";
    try {
      const result = await generateText({
        model: providerFor(env).chatModel(model),
        messages: body.messages ?? [],
        tools: { calculate },
        stopWhen: stepCountIs(2),
        maxRetries: 0,
      });
      const conversationId = crypto.randomUUID();
      await conversations.put(`conversations/${conversationId}`, JSON.stringify({ messages: [...(body.messages ?? []), ...result.response.messages] }));
      return Response.json({
        id: result.response.id,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: "assistant", content: result.text }, finish_reason: result.finishReason }],
        usage: {
          prompt_tokens: result.totalUsage.inputTokens ?? 0,
          completion_tokens: result.totalUsage.outputTokens ?? 0,
          total_tokens: result.totalUsage.totalTokens ?? 0,
        },
        steps: result.steps.length,
        conversation_id: conversationId,
      });
    } catch (error) {
      return Response.json({ error: { message: error instanceof Error ? error.message : String(error), type: "server_error" } }, { status: 502 });
    }
  },
};
