import { describe, expect, it } from "vitest";
import type { ModelClient } from "../../src/upstream/dmxapi-client.js";
import { createModelPort } from "../../src/upstream/model.js";

/** A client whose stream carries these text pieces, then stop and [DONE]. */
function streamingClient(pieces: string[]): ModelClient {
  const chunk = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const text = [chunk({ role: "assistant", content: "" }), ...pieces.map((piece) => chunk({ content: piece })), chunk({}, "stop"), "data: [DONE]\n\n"].join("");
  return {
    defaultModel: "m",
    complete: () => Promise.reject(new Error("not used")),
    openStream: async () => new Response(text).body!,
  };
}

describe("the model port's stream", () => {
  it("hands each text delta to the listener and resolves to the whole completion", async () => {
    const heard: string[] = [];
    const completion = await createModelPort(streamingClient(["Hel", "lo"])).stream(
      { model: "m", messages: [] },
      { onDelta: (delta) => void heard.push(delta.content ?? "") },
    );
    expect(heard).toEqual(["Hel", "lo"]);
    expect(completion.choices[0]?.message.content).toBe("Hello");
  });

  it("stops waiting on a listener that never takes a delta once the turn's signal aborts (a client that stops reading)", async () => {
    const controller = new AbortController();
    const stuck = createModelPort(streamingClient(["never read"])).stream(
      { model: "m", messages: [] },
      { onDelta: () => new Promise<void>(() => undefined) },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error("turn deadline")), 20);
    await expect(stuck).rejects.toThrow("turn deadline");
  });
});
