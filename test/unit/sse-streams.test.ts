import { describe, expect, it } from "vitest";
import { SseOutbox } from "../../src/http/sse-outbox.js";
import { readChunks } from "../../src/upstream/stream-reader.js";

const encoder = new TextEncoder();

/** A body that hands out these pieces one read at a time, and records whether it was cancelled. */
function pieces(parts: string[]): { body: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  let next = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const part = parts[next++];
        if (part === undefined) controller.close();
        else controller.enqueue(encoder.encode(part));
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, cancelled: () => cancelled };
}

async function collect(body: ReadableStream<Uint8Array>): Promise<unknown[]> {
  const chunks: unknown[] = [];
  for await (const chunk of readChunks(body)) chunks.push(chunk);
  return chunks;
}

describe("reading an upstream SSE body", () => {
  it("parses events split across reads, several in one read, comments and CRLF line ends", async () => {
    const { body } = pieces([': PING\r\n\r\ndata: {"a"', ':1}\r\n\r\ndata: {"b":2}\n\ndata: {"c"', ":3}\n\ndata: [DONE]\n\n"]);
    expect(await collect(body)).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  it("decodes a character split across two reads", async () => {
    const bytes = encoder.encode('data: {"text":"上海"}\n\n');
    const cut = bytes.indexOf(0xe4) + 1;
    let index = 0;
    const parts = [bytes.slice(0, cut), bytes.slice(cut)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts[index++];
        if (part) controller.enqueue(part);
        else controller.close();
      },
    });
    expect(await collect(body)).toEqual([{ text: "上海" }]);
  });

  it("ends at the body's end without [DONE], leaving an unterminated event out", async () => {
    const { body } = pieces(['data: {"a":1}\n\n', 'data: {"b":2}']);
    expect(await collect(body)).toEqual([{ a: 1 }]);
  });

  it("releases the upstream when the reader stops before the end", async () => {
    const { body, cancelled } = pieces(['data: {"a":1}\n\n', 'data: {"b":2}\n\n', "data: [DONE]\n\n"]);
    for await (const _chunk of readChunks(body)) break;
    expect(cancelled()).toBe(true);
  });

  it("answers 502 upstream_invalid_response for an event that is not JSON", async () => {
    const { body, cancelled } = pieces(["data: {not json\n\n", 'data: {"a":1}\n\n']);
    await expect(collect(body)).rejects.toMatchObject({ status: 502, code: "upstream_invalid_response" });
    expect(cancelled()).toBe(true);
  });
});

describe("a door's SSE outbox", () => {
  const decoder = new TextDecoder();

  it("keeps what was sent before anyone reads, and writes each event as SSE", async () => {
    const out = new SseOutbox();
    void out.send({ a: 1 });
    void out.send({ b: 2 }, "named");
    void out.sendRaw("two\nlines");
    out.close();
    expect(await new Response(out.body).text()).toBe('data: {"a":1}\n\nevent: named\ndata: {"b":2}\n\ndata: two\ndata: lines\n\n');
  });

  it("holds a writer until the reader has taken what is queued and asks for more (a slow client slows the turn)", async () => {
    const out = new SseOutbox();
    const reader = out.body.getReader();
    let written = false;
    const write = out.send({ a: 1 }).then(() => {
      written = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(written).toBe(false);
    expect(decoder.decode((await reader.read()).value)).toBe('data: {"a":1}\n\n');
    const next = reader.read();
    await write;
    expect(written).toBe(true);
    out.close();
    expect((await next).done).toBe(true);
  });

  it("lets writers go on once the client has gone, and says so", async () => {
    const out = new SseOutbox();
    let gone = false;
    out.onCancel(() => {
      gone = true;
    });
    const waiting = out.send({ a: 1 });
    await out.body.cancel();
    await waiting;
    await out.send({ b: 2 });
    expect(gone).toBe(true);
  });

  it("sends a keep-alive comment after a silence", async () => {
    const out = new SseOutbox();
    const reader = out.body.getReader();
    out.keepAlive(20);
    expect(decoder.decode((await reader.read()).value)).toBe(": keep-alive\n\n");
    out.close();
    expect((await reader.read()).done).toBe(true);
  });
});
