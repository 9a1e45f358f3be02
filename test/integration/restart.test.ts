// A run outlives the process running it: the local stack is stopped in the middle of a background
// turn (after its tool ran, while the model writes the answer) and started again on the same state,
// as `npm start` restarts on `.wrangler/state`. The conversation's home wakes on its alarm and takes
// the run up from its last checkpoint: the answer arrives, and the tool is not run a second time.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import type { Switchboard } from "./support/harness.js";
import { startSwitchboard } from "./support/harness.js";
import { completion, MockUpstream, reply, toChunks, toolCall } from "./support/mock-upstream.js";

let running: Switchboard | null = null;
let state: string | null = null;

afterEach(async () => {
  await running?.dispose();
  running = null;
  if (state) rmSync(state, { recursive: true, force: true });
});

const VARS = { DMXAPI_MAX_RETRIES: "0", TOOL_TIMEOUT_MS: "10000" };

/**
 * Starts the stack on fresh persisted state with a weather turn scripted: the tool call, then an
 * answer that never comes while this process lives (`stalled` resolves once it is being awaited),
 * then, after the restart, the answer.
 */
async function startStalling(
  location: string,
  callId: string,
  answer: string,
  vars: Record<string, string> = VARS,
): Promise<{ first: Switchboard; dir: string; upstream: MockUpstream; stalled: Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "switchboard-restart-"));
  state = dir;
  const upstream = new MockUpstream();
  const first = await startSwitchboard({ persistTo: dir, upstream, vars });
  running = first;
  let answering: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => {
    answering = resolve;
  });
  upstream.enqueue(
    reply.toolCalls(toolCall("get_current_weather", { location }, callId)),
    async () => {
      answering();
      await new Promise(() => undefined);
      return new Response(null);
    },
    reply.sse(toChunks(completion({ content: answer }))),
  );
  return { first, dir, upstream, stalled };
}

it("finishes a background run after a restart mid-run, without running its tool again", { timeout: 60_000 }, async () => {
  const { first, dir, upstream, stalled } = await startStalling("Paris", "call_restart_1", "Paris is mild today.");

  const created = await first.openai.responses.create({ model: "gpt-5-mini", input: "Weather in Paris?", background: true });
  await stalled;
  const forecasts = () => upstream.openMeteoCalls.filter((url) => url.pathname === "/v1/forecast").length;
  expect(forecasts()).toBe(1);
  await first.dispose();

  const current = await startSwitchboard({ persistTo: dir, upstream, vars: VARS });
  running = current;
  const done = await eventually(async () => {
    const response = await current.openai.responses.retrieve(created.id);
    return response.status === "completed" ? response : null;
  }, 30_000);

  expect(done.output_text).toBe("Paris is mild today.");
  expect(done.output.map((item) => item.type)).toEqual(["mcp_call", "message"]);
  expect(forecasts()).toBe(1);
  // Step one (the tool call) was asked once; step two once before the restart and once after.
  expect(upstream.chatCalls).toHaveLength(3);
  expect(upstream.chatCalls[2]?.body.messages).toContainEqual(expect.objectContaining({ role: "tool", tool_call_id: "call_restart_1" }));
});

it("finishes a foreground Responses turn after a restart mid-run, its response keeping the step before the restart", { timeout: 60_000 }, async () => {
  const { first, dir, upstream, stalled } = await startStalling("London", "call_restart_2", "London is grey.");

  // A streamed (not background) turn: the client learns its response id from the first event, then the process dies.
  const stream = await first.openai.responses.create({ model: "gpt-5-mini", input: "Weather in London?", stream: true });
  let id = "";
  for await (const event of stream) {
    if (event.type === "response.created") id = event.response.id;
    if (event.type === "response.output_item.done") break;
  }
  await stalled;
  await first.dispose();

  const current = await startSwitchboard({ persistTo: dir, upstream, vars: VARS });
  running = current;
  const done = await eventually(async () => {
    const response = await current.openai.responses.retrieve(id);
    return response.status === "completed" ? response : null;
  }, 30_000);
  expect(done.output.map((item) => item.type)).toEqual(["mcp_call", "message"]);
  expect(done.output_text).toBe("London is grey.");
  expect(upstream.openMeteoCalls.filter((url) => url.pathname === "/v1/forecast")).toHaveLength(1);
});

const APPROVING = { ...VARS, APPROVAL_REQUIRED_TOOLS: "get_current_weather" };

it("keeps a turn waiting for approval across a restart; approved after it, the tool runs once and the turn answers", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "switchboard-restart-"));
  state = dir;
  const upstream = new MockUpstream();
  const first = await startSwitchboard({ persistTo: dir, upstream, vars: APPROVING });
  running = first;
  upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "London" }, "call_parked_1")), reply.text("London is grey."));
  const parked = await first.openai.responses.create({ model: "gpt-5-mini", input: "Weather in London?" });
  const request = parked.output.at(-1) as unknown as { type: string; id: string };
  expect(request.type).toBe("mcp_approval_request");
  await first.dispose();

  const current = await startSwitchboard({ persistTo: dir, upstream, vars: APPROVING });
  running = current;
  const pending = (await (await current.request(`/v1/approvals/${request.id}`)).json()) as { status: string };
  expect(pending.status).toBe("pending");
  const answered = await current.openai.responses.create({
    model: "gpt-5-mini",
    previous_response_id: parked.id,
    input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: true }],
  });

  expect(answered.output_text).toBe("London is grey.");
  expect(upstream.openMeteoCalls.filter((url) => url.pathname === "/v1/forecast")).toHaveLength(1);
});

it("runs an approved call once when the stack restarts while the turn continues", { timeout: 60_000 }, async () => {
  // The weather call waits for approval; approved, it runs and the model's answer after it never comes while this process lives.
  const { first, dir, upstream, stalled } = await startStalling("Paris", "call_parked_2", "Paris is mild.", APPROVING);
  const parked = await first.openai.responses.create({ model: "gpt-5-mini", input: "Weather in Paris?" });
  const request = parked.output.at(-1) as unknown as { id: string };
  const decided = await first.request(`/v1/approvals/${request.id}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ approve: true }),
  });
  const { continuation } = (await decided.json()) as { continuation: { response_id: string } };
  // The approved call ran; the process dies while the model writes the answer.
  await stalled;
  await first.dispose();

  const current = await startSwitchboard({ persistTo: dir, upstream, vars: APPROVING });
  running = current;
  const done = await eventually(async () => {
    const response = await current.openai.responses.retrieve(continuation.response_id);
    return response.status === "completed" ? response : null;
  }, 30_000);
  expect(done.output_text).toBe("Paris is mild.");
  expect(upstream.openMeteoCalls.filter((url) => url.pathname === "/v1/forecast")).toHaveLength(1);
});
