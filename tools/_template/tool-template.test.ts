import { describe, expect, it } from "vitest";
import type { ToolCallContext } from "../../kit/index.js";
import worker, { toolTemplateTool } from "./index.js";

const context: ToolCallContext = {
  conversation_id: null,
  tool_call_id: "call_1",
  request_id: "req_1",
  tenant: "default",
  idempotency_key: "idem_1",
};

function invoke(args: unknown) {
  return worker.app.request("/invoke", { method: "POST", body: JSON.stringify({ arguments: args, context }) }, {});
}

describe("tool_template", () => {
  it("counts characters, words, sentences and lines, and ranks the most frequent words", async () => {
    expect(await toolTemplateTool.invoke({ text: "The cat sat.\nThe cat ran!", top: 2 }, {}, context)).toEqual({
      characters: 25,
      words: 6,
      unique_words: 4,
      sentences: 2,
      lines: 2,
      top_words: [
        { word: "cat", count: 2 },
        { word: "the", count: 2 },
      ],
    });
  });

  it("counts an emoji with a skin tone as one character", async () => {
    expect(await toolTemplateTool.invoke({ text: "👍🏽 ok", top: 0 }, {}, context)).toMatchObject({ characters: 4, words: 1, top_words: [] });
  });

  it("applies the parameters' defaults", async () => {
    expect(await toolTemplateTool.invoke({ text: "b a b c d b a" }, {}, context)).toMatchObject({
      words: 7,
      unique_words: 4,
      top_words: [
        { word: "b", count: 3 },
        { word: "a", count: 2 },
        { word: "c", count: 1 },
      ],
    });
  });

  it("answers POST /invoke with the result", async () => {
    const response = await invoke({ text: "Hello, world.", top: 1 });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: { words: 2, sentences: 1, top_words: [{ word: "hello", count: 1 }] } });
  });

  it("rejects arguments that do not fit the schema with 400 invalid_arguments", async () => {
    for (const args of [{}, { text: "" }, { text: "hi", top: 1.5 }]) {
      const response = await invoke(args);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { type: "invalid_arguments" } });
    }
  });

  it("serves its schema on GET /schema", async () => {
    const response = await worker.app.request("/schema", {}, {});
    expect(response.status).toBe(200);
    const body = (await response.json()) as { function: { name: string; parameters: { required?: string[] } }; metadata: { version: string } };
    expect(body.function.name).toBe("tool_template");
    expect(body.function.parameters.required).toEqual(["text"]);
    expect(body.metadata.version).toMatch(/^[0-9a-f]{16}$/);
  });
});
