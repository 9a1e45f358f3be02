// Stands in for every outbound host the Workers call: DMXAPI's chat completions and Open-Meteo's
// geocoding and forecast APIs. Tests script the model's answers one call at a time; when nothing is
// scripted it answers like a model that read the tool results, quoting them.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures");

/** DMXAPI's own response example, byte for byte. */
export const BRIEF_RESPONSE_TEXT = readFileSync(path.join(fixtures, "dmxapi-function-calling-response.json"), "utf8");

export type JsonObject = { [key: string]: unknown };
export type ChatHandler = (body: JsonObject, request: Request) => Response | Promise<Response>;

export interface RecordedChatCall {
  body: JsonObject;
  headers: Headers;
}

let sequence = 0;

export function completion(message: JsonObject, options: { finish_reason?: string | null; usage?: JsonObject; extra?: JsonObject } = {}): JsonObject {
  sequence += 1;
  return {
    id: `chatcmpl-mock${sequence}`,
    object: "chat.completion",
    created: 1_762_513_383,
    model: "gpt-5-mini-2025-08-07",
    choices: [
      {
        index: 0,
        message: { role: "assistant", ...message },
        logprobs: null,
        finish_reason: options.finish_reason === undefined ? (message.tool_calls ? "tool_calls" : "stop") : options.finish_reason,
      },
    ],
    usage: options.usage ?? { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    ...options.extra,
  };
}

export function toolCall(name: string, args: unknown, id: unknown = `call_${name}_${++sequence}`): JsonObject {
  return { id, type: "function", function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) } };
}

/**
 * A completion as an OpenAI-style stream: role first, content in small pieces, each tool call as a
 * header fragment then its arguments in two pieces, finish_reason, a usage chunk, [DONE].
 */
export function toChunks(body: JsonObject): string[] {
  const choice = (body.choices as JsonObject[])[0]!;
  const message = choice.message as JsonObject;
  const base = { id: body.id, object: "chat.completion.chunk", created: body.created, model: body.model, system_fingerprint: null };
  const chunk = (delta: JsonObject, finish: unknown = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });
  const events: unknown[] = [chunk({ role: "assistant", content: message.tool_calls ? null : "" })];
  for (const piece of String(message.content ?? "").match(/[\s\S]{1,5}/g) ?? []) events.push(chunk({ content: piece }));
  ((message.tool_calls as JsonObject[] | undefined) ?? []).forEach((call, index) => {
    const fn = call.function as JsonObject;
    const args = typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments);
    const half = Math.ceil(args.length / 2);
    events.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: fn.name, arguments: "" } }] }));
    events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }));
    events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
  });
  events.push(chunk({}, choice.finish_reason));
  events.push({ ...base, choices: [], usage: body.usage });
  return [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
}

/** Sends each piece as its own network write, `delayMs` apart. */
export function sseResponse(pieces: string[], delayMs = 0, headers: Record<string, string> = {}): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const piece of pieces) {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        controller.enqueue(encoder.encode(piece));
      }
      controller.close();
    },
  });
  return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream", ...headers } });
}

export const reply = {
  /** A JSON body; when the request asked for a stream, a 2xx completion is streamed instead. */
  json:
    (body: unknown, status = 200, headers: Record<string, string> = {}): ChatHandler =>
    (request) => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      if (request.stream === true && status === 200) return sseResponse(toChunks(JSON.parse(text) as JsonObject));
      return new Response(text, { status, headers: { "Content-Type": "application/json", ...headers } });
    },
  /** Raw SSE text pieces, for the streaming quirks. */
  sse:
    (pieces: string[], delayMs = 0): ChatHandler =>
    () =>
      sseResponse(pieces, delayMs),
  toolCalls: (...calls: JsonObject[]): ChatHandler => reply.json(completion({ content: null, tool_calls: calls })),
  text: (content: string): ChatHandler => reply.json(completion({ content })),
  error: (status: number, message: string, extra: JsonObject = {}, headers: Record<string, string> = {}): ChatHandler =>
    reply.json({ error: { message, type: "upstream_error", param: "", code: null, ...extra } }, status, headers),
};

interface Place {
  name: string;
  latitude: number;
  longitude: number;
  country: string;
  country_code: string;
  admin1: string;
  timezone: string;
  temperature: number;
}

const PLACES: Record<string, Place[]> = {
  上海: [
    {
      name: "上海",
      latitude: 31.22222,
      longitude: 121.45806,
      country: "中国",
      country_code: "CN",
      admin1: "上海",
      timezone: "Asia/Shanghai",
      temperature: 23.4,
    },
  ],
  shanghai: [
    {
      name: "Shanghai",
      latitude: 31.22222,
      longitude: 121.45806,
      country: "China",
      country_code: "CN",
      admin1: "Shanghai",
      timezone: "Asia/Shanghai",
      temperature: 23.4,
    },
  ],
  london: [
    {
      name: "London",
      latitude: 51.50853,
      longitude: -0.12574,
      country: "United Kingdom",
      country_code: "GB",
      admin1: "England",
      timezone: "Europe/London",
      temperature: 9.1,
    },
  ],
  "new york": [
    {
      name: "New York",
      latitude: 40.71427,
      longitude: -74.00597,
      country: "United States",
      country_code: "US",
      admin1: "New York",
      timezone: "America/New_York",
      temperature: 4.6,
    },
  ],
  paris: [
    {
      name: "Paris",
      latitude: 48.85341,
      longitude: 2.3488,
      country: "France",
      country_code: "FR",
      admin1: "Île-de-France",
      timezone: "Europe/Paris",
      temperature: 11.2,
    },
    {
      name: "Paris",
      latitude: 33.66094,
      longitude: -95.55551,
      country: "United States",
      country_code: "US",
      admin1: "Texas",
      timezone: "America/Chicago",
      temperature: 18.9,
    },
  ],
};

export class MockUpstream {
  readonly chatCalls: RecordedChatCall[] = [];
  readonly openMeteoCalls: URL[] = [];
  /** Callback deliveries received, with their raw body and headers. */
  readonly callbacks: Array<{ url: URL; body: string; headers: Headers }> = [];
  /** Statuses the callback receiver answers with, in order; 200 once they run out. */
  callbackStatuses: number[] = [];
  private readonly script: ChatHandler[] = [];
  /** When set, Open-Meteo answers every request with this status. */
  openMeteoStatus: number | null = null;
  /** When set, Open-Meteo holds every answer until this settles (a slow tool). */
  openMeteoGate: Promise<unknown> | null = null;
  /** Other hosts a test serves (MCP servers): hostname → handler. Kept across tests. */
  readonly hosts = new Map<string, (request: Request) => Response | Promise<Response>>();
  /** When set, Open-Meteo's geocoding answers with this instead (a hostile or hijacked upstream). */
  geocodingOverride: (() => Response) | null = null;
  /** Requests to hosts nobody mocks (a tool must never reach them). */
  readonly strayCalls: URL[] = [];

  /** Holds Open-Meteo's answers (a slow weather tool) until the returned function is called. */
  holdOpenMeteo(): () => void {
    let release: () => void = () => undefined;
    this.openMeteoGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => release();
  }

  /** Queues handlers for the next chat completion calls, in order. */
  enqueue(...handlers: ChatHandler[]): void {
    this.script.push(...handlers);
  }

  reset(): void {
    this.chatCalls.length = 0;
    this.openMeteoCalls.length = 0;
    this.script.length = 0;
    this.openMeteoStatus = null;
    this.openMeteoGate = null;
    this.geocodingOverride = null;
    this.strayCalls.length = 0;
    this.callbacks.length = 0;
    this.callbackStatuses = [];
  }

  /** Miniflare's outboundService: every fetch to the outside world lands here. */
  readonly fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const host = this.hosts.get(url.hostname);
    if (host) return host(request);
    if (url.hostname === "www.dmxapi.cn" && url.pathname === "/v1/chat/completions" && request.method === "POST") {
      const body = (await request.json()) as JsonObject;
      this.chatCalls.push({ body, headers: request.headers });
      const handler = this.script.shift() ?? answerFromToolResults;
      return handler(body, request);
    }
    if (url.hostname.endsWith("open-meteo.com")) {
      this.openMeteoCalls.push(url);
      if (this.openMeteoGate) await this.openMeteoGate;
      if (this.openMeteoStatus !== null) return Response.json({ error: true, reason: "Mock failure" }, { status: this.openMeteoStatus });
      if (this.geocodingOverride && url.pathname === "/v1/search") return this.geocodingOverride();
      if (url.pathname === "/v1/search") return geocode(url);
      if (url.pathname === "/v1/forecast") return forecast(url);
    }
    if (url.hostname === "callbacks.example.com") {
      this.callbacks.push({ url, body: await request.text(), headers: request.headers });
      return new Response(null, { status: this.callbackStatuses.shift() ?? 200 });
    }
    this.strayCalls.push(url);
    return new Response(`No mock for ${request.method} ${url.href}`, { status: 599 });
  };
}

/** The default model: quotes the tool results it was given, or says hello. */
const answerFromToolResults: ChatHandler = (body) => {
  const messages = (body.messages as JsonObject[]) ?? [];
  const trailing: string[] = [];
  for (let index = messages.length - 1; index >= 0 && messages[index]?.role === "tool"; index--) {
    trailing.unshift(String(messages[index]?.content));
  }
  const answer = completion({ content: trailing.length > 0 ? `From the tools: ${trailing.join(" | ")}` : "Hello from the mock model." });
  return body.stream === true ? sseResponse(toChunks(answer)) : Response.json(answer);
};

function geocode(url: URL): Response {
  const name = (url.searchParams.get("name") ?? "").trim().toLowerCase();
  const places = PLACES[name] ?? [];
  return Response.json({
    results:
      places.length === 0
        ? undefined
        : places.map((place, index) => ({
            id: 1000 + index,
            name: place.name,
            latitude: place.latitude,
            longitude: place.longitude,
            elevation: 10,
            feature_code: "PPLC",
            country_code: place.country_code,
            timezone: place.timezone,
            population: 1_000_000 - index,
            country: place.country,
            admin1: place.admin1,
          })),
    generationtime_ms: 0.5,
  });
}

function forecast(url: URL): Response {
  const latitude = Number(url.searchParams.get("latitude"));
  const place = Object.values(PLACES)
    .flat()
    .find((candidate) => Math.abs(candidate.latitude - latitude) < 0.01);
  const celsius = place?.temperature ?? 15;
  const fahrenheit = url.searchParams.get("temperature_unit") === "fahrenheit";
  const temperature = fahrenheit ? Math.round(((celsius * 9) / 5) * 10 + 320) / 10 : celsius;
  return Response.json({
    latitude,
    longitude: Number(url.searchParams.get("longitude")),
    generationtime_ms: 0.1,
    utc_offset_seconds: 28_800,
    timezone: place?.timezone ?? "GMT",
    timezone_abbreviation: "GMT+8",
    elevation: 10,
    current_units: {
      time: "iso8601",
      interval: "seconds",
      temperature_2m: fahrenheit ? "°F" : "°C",
      relative_humidity_2m: "%",
      apparent_temperature: fahrenheit ? "°F" : "°C",
      weather_code: "wmo code",
      wind_speed_10m: "km/h",
    },
    current: {
      time: "2026-11-23T14:00",
      interval: 900,
      temperature_2m: temperature,
      relative_humidity_2m: 60,
      apparent_temperature: temperature - 1,
      weather_code: 1,
      wind_speed_10m: 9.4,
    },
  });
}
