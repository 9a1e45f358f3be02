// GET /v1/usage: what a managed key's model calls used, settled from the usage the upstream
// reported, in buckets as OpenAI's usage API gives them (`start_time`, `end_time`, `bucket_width`
// 1m/1h/1d, `group_by` model); reservations of calls still running are shown apart (`in_flight`).
// The operator reads any key's with its own key at /v1/admin/usage?key_id=.

import type { Context } from "hono";
import { tenantLimitsOf } from "../config.js";
import { ApiError, invalidRequest } from "../errors.js";
import type { UsageReport } from "../keys/key-home.js";
import { tenantMeter } from "../keys/keys.js";
import type { AppEnv } from "../types.js";

const WIDTHS: Record<string, { ms: number; maxBuckets: number }> = {
  "1m": { ms: 60_000, maxBuckets: 1_440 },
  "1h": { ms: 3_600_000, maxBuckets: 168 },
  "1d": { ms: 86_400_000, maxBuckets: 31 },
};

export async function usageOf(c: Context<AppEnv>, key: { id: string; hash: string }): Promise<Response> {
  const query = c.req.queries();
  const start = seconds(query.start_time?.[0], "start_time");
  if (start === null) throw invalidRequest("start_time is required (Unix seconds).", "start_time");
  const end = seconds(query.end_time?.[0], "end_time") ?? Math.ceil(Date.now() / 1000);
  const widthName = query.bucket_width?.[0] ?? "1d";
  const width = WIDTHS[widthName];
  if (!width) throw invalidRequest("Invalid value for 'bucket_width': must be 1m, 1h or 1d.", "bucket_width");
  if (end <= start) throw invalidRequest("end_time must be after start_time.", "end_time");
  const buckets = Math.ceil(((end - start) * 1000) / width.ms);
  if (buckets > width.maxBuckets) throw invalidRequest(`At most ${width.maxBuckets} buckets of ${widthName} in one request.`, "end_time");
  const groups = (query.group_by ?? []).flatMap((value) => value.split(","));
  const unknown = groups.find((group) => group !== "model" && group !== "api_key_id" && group !== "key");
  if (unknown) throw invalidRequest(`Invalid value for 'group_by': ${unknown} (model, api_key_id).`, "group_by");
  const byModel = groups.includes("model");
  const report = await c.get("services").keys.usage(key.hash, { start: start * 1000, end: end * 1000, widthMs: width.ms, byModel });
  return c.json(page(report, { start, width: width.ms / 1000, buckets, byModel, keyId: key.id }));
}

function page(report: UsageReport, shape: { start: number; width: number; buckets: number; byModel: boolean; keyId: string }) {
  const data = Array.from({ length: shape.buckets }, (_, index) => ({
    object: "bucket",
    start_time: shape.start + index * shape.width,
    end_time: shape.start + (index + 1) * shape.width,
    results: report.rows
      .filter((row) => row.bucket === index)
      .map((row) => ({
        object: "organization.usage.completions.result",
        input_tokens: row.input,
        output_tokens: row.output,
        input_cached_tokens: row.cached,
        num_model_requests: row.requests,
        model: shape.byModel ? row.model : null,
        api_key_id: shape.keyId,
        spend_usd: row.usd,
      })),
  }));
  return {
    object: "page",
    data,
    has_more: false,
    next_page: null,
    in_flight: { reservations: report.reserved.count, tokens: report.reserved.tokens, spend_usd: report.reserved.usd },
    budgets: report.budgets,
  };
}

function seconds(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d{1,12}$/.test(value)) throw invalidRequest(`Invalid value for '${name}': must be Unix seconds.`, name);
  return Number(value);
}

/** The calling key's own usage (a managed key's), or its tenant's when the operator set the tenant limits (TENANT_LIMITS). */
export function ownKey(c: Context<AppEnv>): { id: string; hash: string } {
  const id = c.get("keyId");
  const hash = c.get("keyHash");
  if (id && hash) return { id, hash };
  const tenant = c.get("tenant");
  if (tenantLimitsOf(c.get("config"), tenant)) return { id: `tenant_${tenant}`, hash: tenantMeter(tenant) };
  throw new ApiError(400, "Usage is kept for keys made through /v1/admin/keys, and for tenants with limits (TENANT_LIMITS); this key is a static one.", {
    type: "invalid_request_error",
    code: "usage_not_kept",
  });
}
