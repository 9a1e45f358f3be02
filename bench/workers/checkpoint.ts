// What a run pays per step for its checkpoint (`npm run bench`, scripts/bench/checkpoint.mjs): a
// SQLite Durable Object with the run engine's own tables (RUN_TABLES, PARTS_TABLE) that times the
// engine's own `writeCheckpoint` (src/runs/host.ts), the transaction a run commits after every model
// call and every tool call, beside a floor: one INSERT OR REPLACE of the same JSON text into a
// one-row table. Bundled by scripts/bench/build.mjs.
//
// performance.now() inside workerd moves in whole milliseconds, so a batch of writes is timed whole
// and divided; batches of the checkpoint and of the floor alternate, and each batch starts after
// the last one's writes were committed (storage.sync(), not timed). The writes of a batch run back
// to back in one turn of the object's event loop, so what is timed is the work on the object's
// thread; the commit to disk that follows a real step is not in it.
//
//   GET /?writes=2000&batches=5  -> { timerResolutionMs, writes, batches,
//                                     cases: [{ key, label, bytes, checkpoint: { writes, batchMs: [...] }, floor: { writes, batchMs: [...] } }] }

import { DurableObject } from "cloudflare:workers";
import { PARTS_TABLE } from "../../src/conversations/parts.js";
import type { LoopCheckpoint } from "../../src/loop/tool-loop.js";
import type { AssistantMessage, ChatMessage, ToolMessage } from "../../src/protocol/types.js";
import { RUN_TABLES, writeCheckpoint } from "../../src/runs/host.js";

interface Env {
  CHECKPOINTS: DurableObjectNamespace<CheckpointBench>;
}

const RUN_ID = "turn_bench0000000000";
/** A batch shorter than this is lengthened (the timer moves in whole milliseconds); never past MAX_WRITES. */
const MIN_BATCH_MS = 40;
const MAX_WRITES = 100_000;
const FLOOR_TABLE = "CREATE TABLE IF NOT EXISTS checkpoint_floor (id INTEGER PRIMARY KEY, data TEXT NOT NULL)";

/** A tool result of about `chars` characters: a weather tool's JSON, padded with a forecast text. */
function toolResult(callId: string, city: string, chars: number): ToolMessage {
  const observed = {
    location: `${city}, Country`,
    query: city,
    latitude: 31.22,
    longitude: 121.46,
    timezone: "Asia/Shanghai",
    observed_at: "2026-12-06T09:00",
    temperature: 12.4,
    apparent_temperature: 10.9,
    unit: "celsius",
    relative_humidity: 71,
    wind_speed_kmh: 14.2,
    weather_code: 3,
    conditions: "Overcast",
    source: "Open-Meteo (https://open-meteo.com), CC BY 4.0",
    summary: "",
  };
  const base = JSON.stringify(observed).length;
  observed.summary = "Cloudy through the afternoon, light wind from the east, no rain expected. "
    .repeat(Math.ceil(chars / 70))
    .slice(0, Math.max(0, chars - base));
  return { role: "tool", tool_call_id: callId, content: JSON.stringify(observed) };
}

/** One step's messages: an assistant message with two weather tool calls and their two results. */
function step(index: number, resultChars: number): ChatMessage[] {
  const cities = ["Shanghai", "Beijing"];
  const ids = cities.map((_, call) => `call_${String(index).padStart(2, "0")}${call}abcdefghijklmnopqrstu`);
  const assistant: AssistantMessage = {
    role: "assistant",
    content: null,
    tool_calls: cities.map((city, call) => ({
      id: ids[call] as string,
      type: "function",
      function: { name: "get_current_weather", arguments: JSON.stringify({ location: city, unit: "celsius" }) },
    })),
  };
  return [assistant, ...cities.map((city, call) => toolResult(ids[call] as string, city, resultChars))];
}

/**
 * The checkpoint the loop writes once `steps` steps are committed (src/loop/tool-loop.ts): the turn's
 * messages after its input (the user's message is the run's input, kept in its spec), and the usage.
 */
function checkpointOf(steps: number, resultChars: number): LoopCheckpoint {
  const messages = Array.from({ length: steps }, (_, index) => step(index + 1, resultChars)).flat();
  return { step: steps, messages, usage: { prompt_tokens: 412 * steps, completion_tokens: 38 * steps, total_tokens: 450 * steps } };
}

const CASES = [
  { key: "weather-step-1", label: "after step 1 of a weather turn (2 tool calls, 2 × ~600-char results)", checkpoint: checkpointOf(1, 600) },
  { key: "large-40kb", label: "large: 5 steps of 2 tool calls, 2 × ~3.9 KB results each (~40 KB)", checkpoint: checkpointOf(5, 3_900) },
];

/** The smallest step performance.now() takes here (workerd coarsens it). */
function timerResolutionMs(): number {
  const start = performance.now();
  let now = start;
  for (let spins = 0; now === start && spins < 50_000_000; spins++) now = performance.now();
  return now - start;
}

function timeBatch(writes: number, write: () => void): number {
  const start = performance.now();
  for (let index = 0; index < writes; index++) write();
  return performance.now() - start;
}

export class CheckpointBench extends DurableObject<Env> {
  private readonly sql = this.ctx.storage.sql;

  private prepare(): void {
    for (const statement of [...RUN_TABLES, PARTS_TABLE, FLOOR_TABLE]) this.sql.exec(statement);
    this.sql.exec("DELETE FROM runs WHERE id = ?", RUN_ID);
    this.sql.exec("DELETE FROM run_events WHERE run_id = ?", RUN_ID);
    const now = Date.now();
    this.sql.exec(
      "INSERT INTO runs (id, response_id, status, background, created_at, deadline_at) VALUES (?, ?, 'in_progress', 1, ?, ?)",
      RUN_ID,
      "resp_bench",
      now,
      now + 600_000,
    );
    // A run's log so far (started, the step's tool events): what the checkpoint's UPDATE reads the last seq of.
    for (let seq = 1; seq <= 8; seq++) {
      this.sql.exec("INSERT INTO run_events (run_id, seq, event) VALUES (?, ?, ?)", RUN_ID, seq, JSON.stringify({ type: "tool", step: 1, seq }));
    }
  }

  /**
   * Alternating batches of the checkpoint and of the floor, after an uncounted pair that also sizes
   * them: a kind whose `writes` took under MIN_BATCH_MS gets proportionally more, so that the timer's
   * whole milliseconds stay a small share of every batch.
   */
  private async measureCase(checkpoint: LoopCheckpoint, writes: number, batches: number) {
    const json = JSON.stringify(checkpoint);
    const kinds = {
      checkpoint: () => writeCheckpoint(this.ctx.storage, RUN_ID, checkpoint),
      floor: () => void this.sql.exec("INSERT OR REPLACE INTO checkpoint_floor (id, data) VALUES (1, ?)", json),
    };
    const sized = { checkpoint: writes, floor: writes };
    const times: { checkpoint: number[]; floor: number[] } = { checkpoint: [], floor: [] };
    for (let batch = 0; batch <= batches; batch++) {
      const order = batch % 2 === 0 ? (["checkpoint", "floor"] as const) : (["floor", "checkpoint"] as const);
      for (const kind of order) {
        const ms = timeBatch(sized[kind], kinds[kind]);
        await this.ctx.storage.sync();
        if (batch > 0) times[kind].push(ms);
        else if (ms < MIN_BATCH_MS) sized[kind] = Math.min(MAX_WRITES, Math.ceil((writes * MIN_BATCH_MS) / Math.max(ms, 1)));
      }
    }
    return {
      bytes: new TextEncoder().encode(json).byteLength,
      checkpoint: { writes: sized.checkpoint, batchMs: times.checkpoint },
      floor: { writes: sized.floor, batchMs: times.floor },
    };
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const writes = Math.max(1, Number(url.searchParams.get("writes") ?? 2000));
    const batches = Math.max(1, Number(url.searchParams.get("batches") ?? 5));
    this.prepare();
    await this.ctx.storage.sync();
    const cases = [];
    for (const { key, label, checkpoint } of CASES) cases.push({ key, label, ...(await this.measureCase(checkpoint, writes, batches)) });
    return Response.json({ timerResolutionMs: timerResolutionMs(), writes, batches, cases });
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.CHECKPOINTS.get(env.CHECKPOINTS.idFromName("bench")).fetch(request);
  },
};
