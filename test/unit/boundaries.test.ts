// The orchestrator's boundaries as pure functions: redaction of every form of a secret, the upstream
// error vocabulary, the parameter policy and the JSON shape limits.

import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { findJsonLimitViolation, parseJsonWithin } from "../../src/protocol/json-limits.js";
import { applyParameterPolicy } from "../../src/protocol/parameters.js";
import { createRedactor } from "../../src/security/redact.js";
import { mapErrorCode, mapErrorParam, mapErrorType } from "../../src/upstream/error-vocabulary.js";
import { withinMetadataLimit } from "../../src/webhooks/deliveries.js";

const KEY = "sk-dmx-Secret/Key+42==";
const GITHUB_SECRET = "It's a Secret to Everybody";
const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

function errorOf(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
}

describe("redaction", () => {
  const redact = createRedactor([KEY, GITHUB_SECRET, WHSEC]);

  it("masks a secret as is, URL-encoded, form-encoded and JSON-escaped", () => {
    for (const form of [
      KEY,
      encodeURIComponent(KEY),
      encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (percent) => percent.toLowerCase()),
      new URLSearchParams({ k: GITHUB_SECRET }).toString().slice(2),
    ]) {
      expect(redact(`echo: ${form} end`)).toBe("echo: [REDACTED] end");
    }
    expect(redact(JSON.stringify({ m: 'say "x" then It\'s a Secret to Everybody' }))).not.toContain("Secret to Everybody");
  });

  it("masks a secret base64-encoded at every alignment inside a longer string, base64url too", () => {
    for (const prefix of ["", "a", "ab", "user:"]) {
      const encoded = btoa(`${prefix}${KEY}`);
      expect(redact(`Basic ${encoded}`)).not.toContain(encoded.slice(4, -4));
      const url = encoded.replace(/\+/g, "-").replace(/\//g, "_");
      expect(redact(url)).toContain("[REDACTED]");
    }
  });

  it("masks the key of a Standard Webhooks secret without its whsec_ prefix", () => {
    expect(redact("key MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toBe("key [REDACTED]");
  });

  it("masks every form of every secret when there are many (tenants' keys), and leaves other text as it is", () => {
    const keys = Array.from({ length: 40 }, (_, index) => `sk-tenant-${index}-${"Zq9/x+".repeat(4)}${index}`);
    const many = createRedactor([KEY, WHSEC, ...keys]);
    for (const key of [keys[0], keys[39], KEY]) {
      expect(many(`a ${key} b`)).toBe("a [REDACTED] b");
      expect(many(`a ${encodeURIComponent(key as string)} b`)).toBe("a [REDACTED] b");
      expect(many(`Basic ${btoa(`user:${key}`)}`)).toContain("[REDACTED]");
    }
    expect(many("key MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toBe("key [REDACTED]");
    const clean = JSON.stringify({ event: "request", path: "/v1/chat/completions", tenant: "sk-tenant-1", status: 200 });
    expect(many(clean)).toBe(clean);
  });

  it("masks any bearer token but keeps the <key> placeholder of the hint readable", () => {
    expect(redact("Authorization: Bearer sk-someone-else")).toBe("Authorization: Bearer [REDACTED]");
    expect(redact("Missing API key: send Authorization: Bearer <key>.")).toBe("Missing API key: send Authorization: Bearer <key>.");
    expect(redact(redact("Bearer abcdefgh"))).toBe("Bearer [REDACTED]");
  });
});

describe("upstream error vocabulary", () => {
  it("passes known codes and nothing else", () => {
    expect(mapErrorCode("context_length_exceeded")).toBe("context_length_exceeded");
    expect(mapErrorCode(KEY)).toBeNull();
    expect(mapErrorCode(429)).toBeNull();
  });

  it("passes a param made of known parameter and field names only", () => {
    expect(mapErrorParam("max_tokens")).toBe("max_tokens");
    expect(mapErrorParam("messages[3].content[0].image_url.url")).toBe("messages[3].content[0].image_url.url");
    expect(mapErrorParam(KEY)).toBeNull();
    expect(mapErrorParam(`messages.${KEY}`)).toBeNull();
    expect(mapErrorParam("messages[x]")).toBeNull();
  });

  it("keeps known types for the retry policy and maps the rest to upstream_error", () => {
    expect(mapErrorType("insufficient_quota")).toBe("insufficient_quota");
    expect(mapErrorType(KEY)).toBe("upstream_error");
  });
});

describe("parameter policy", () => {
  const policy = { allowed: new Set<string>(), maxOutputTokens: 4096 };
  const base = { model: "m", messages: [{ role: "user", content: "hi" }] };

  it("passes Chat Completions parameters and DMXAPI's reasoning switches", () => {
    const body = {
      ...base,
      temperature: 0.2,
      top_p: 1,
      stop: ["x"],
      seed: 1,
      user: "u",
      reasoning_effort: "low",
      thinking: { type: "enabled" },
      enable_thinking: true,
    };
    expect(applyParameterPolicy(body, policy)).toEqual(body);
  });

  it("caps token limits at the configured maximum", () => {
    expect(applyParameterPolicy({ ...base, max_tokens: 1_000_000, max_completion_tokens: 100 }, policy)).toMatchObject({
      max_tokens: 4096,
      max_completion_tokens: 100,
    });
  });

  for (const [name, value] of [
    ["service_tier", "priority"],
    ["store", true],
    ["metadata", { a: "b" }],
    ["web_search_options", {}],
    ["prediction", { type: "content", content: "x" }],
    ["audio", { voice: "alloy", format: "mp3" }],
    ["modalities", ["text", "audio"]],
  ] as const) {
    it(`refuses ${name} with a 400 naming it`, () => {
      const error = errorOf(() => applyParameterPolicy({ ...base, [name]: value }, policy));
      expect(error.status).toBe(400);
      expect(error.body.error).toMatchObject({ param: name, code: "parameter_not_allowed" });
      expect(error.body.error.message).toContain(name);
    });
  }

  it("lets through values that neither bill nor store, and what the operator allows", () => {
    expect(() => applyParameterPolicy({ ...base, store: false, service_tier: "auto", modalities: ["text"] }, policy)).not.toThrow();
    expect(() => applyParameterPolicy({ ...base, store: true, top_k: 3 }, { ...policy, allowed: new Set(["store", "top_k"]) })).not.toThrow();
  });

  it("refuses an unknown parameter with a 400 naming it", () => {
    const error = errorOf(() => applyParameterPolicy({ ...base, frobnicate: 1 }, policy));
    expect(error.body.error).toMatchObject({ param: "frobnicate", code: "unknown_parameter", message: "Unrecognized request argument supplied: frobnicate" });
  });
});

describe("JSON limits", () => {
  const limits = { maxJsonDepth: 64, maxStringChars: 100 };

  it("refuses nesting past the limit without recursing, naming the limit", () => {
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    expect(findJsonLimitViolation(deep, limits)).toEqual({ limit: "depth", max: 64 });
    const error = errorOf(() => parseJsonWithin(`{"messages":${deep}}`, limits));
    expect(error.body.error).toMatchObject({ code: "json_too_deep" });
    expect(error.body.error.message).toContain("MAX_JSON_DEPTH");
  });

  it("does not count brackets inside strings, and measures strings with their escapes", () => {
    expect(findJsonLimitViolation(JSON.stringify({ a: "[[[[[[[[[[".repeat(9), b: 'q\\"' }), { maxJsonDepth: 2, maxStringChars: 100 })).toBeNull();
    const error = errorOf(() => parseJsonWithin(JSON.stringify({ a: "x".repeat(101) }), limits));
    expect(error.body.error).toMatchObject({ code: "string_too_long" });
    expect(error.body.error.message).toContain("MAX_STRING_CHARS");
  });

  it("leaves invalid JSON to a 400 invalid_json", () => {
    expect(errorOf(() => parseJsonWithin("{", limits)).body.error).toMatchObject({ code: "invalid_json" });
  });
});

describe("dead-letter metadata", () => {
  it("stays under KV's 1024-byte metadata limit with a long multi-byte error", () => {
    const letter = {
      hook: "orders",
      delivery_id: "m".repeat(128),
      conversation_id: `wh-orders-${"c".repeat(64)}-abcd1234`,
      last_error: "当前分组无可用渠道".repeat(100),
    };
    const fitted = withinMetadataLimit(letter);
    expect(new TextEncoder().encode(JSON.stringify(fitted)).byteLength).toBeLessThanOrEqual(1024);
    expect(fitted.last_error?.startsWith("当前分组")).toBe(true);
    expect(withinMetadataLimit({ ...letter, last_error: null }).last_error).toBeNull();
  });
});
