// The Approvals API: calls that wait for a person, for people and back-office systems, whichever
// door the turn came through. GET /v1/approvals lists the tenant's (by status, newest first), GET
// /v1/approvals/:id reads one, POST /v1/approvals/:id decides it: the first decision wins, and once
// every call of its step is decided the turn continues in its conversation's home.

import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { Approval, ApprovalStatus } from "../approvals/types.js";
import { approvalView } from "../approvals/types.js";
import { ApiError, invalidRequest } from "../errors.js";
import { readBodyText } from "../http/request-body.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import { describeIssue } from "../protocol/request-schema.js";
import type { AppEnv } from "../types.js";

export const approvals = new Hono<AppEnv>();

const STATUSES: readonly ApprovalStatus[] = ["pending", "approved", "denied", "expired"];
const APPROVAL_ID = /^apr_[0-9a-f]{64}[A-Za-z0-9]{16}$/;
export const MAX_REASON_CHARS = 1_000;

const decisionSchema = z.strictObject({
  approve: z.boolean(),
  reason: z.optional(z.nullable(z.string().check(z.maxLength(MAX_REASON_CHARS)))),
});

approvals.get("/approvals", async (c) => {
  const { status: rawStatus, limit: rawLimit, after } = c.req.query();
  const status = rawStatus === undefined || rawStatus === "all" ? null : (rawStatus as ApprovalStatus);
  if (status !== null && !STATUSES.includes(status))
    throw invalidRequest(`Invalid value for 'status': must be one of ${STATUSES.join(", ")} or all.`, "status");
  const limit = rawLimit === undefined ? 20 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidRequest("Invalid value for 'limit': must be an integer from 1 to 100.", "limit");
  if (after !== undefined && !APPROVAL_ID.test(after)) throw invalidRequest("Invalid value for 'after': must be an approval id.", "after");
  const page = await c.get("services").approvals.list(c.get("tenant"), { status, limit, after: after ?? null });
  const data = page.data.map(approvalView);
  return c.json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.has_more });
});

approvals.get("/approvals/:id", async (c) => {
  const id = approvalId(c);
  const approval = await c.get("services").approvals.get(c.get("tenant"), id);
  if (!approval) throw notFound(id);
  return c.json(approvalView(approval));
});

approvals.post("/approvals/:id", async (c) => {
  const id = approvalId(c);
  const body = parseJsonWithin(await readBodyText(c), c.get("config").limits);
  const parsed = decisionSchema.safeParse(body);
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message, param, "invalid_value");
  }
  const { approve, reason } = parsed.data;
  const outcome = await c.get("services").approvals.decide(c.get("tenant"), [{ id, approve, ...(reason ? { reason } : {}) }], null);
  switch (outcome.status) {
    case "ok": {
      const decided = outcome.approvals.find((approval) => approval.id === id);
      return c.json(approvalView(decided as Approval));
    }
    case "not_found":
      throw notFound(id);
    case "conflict":
      if (outcome.approval.status === "expired") {
        return decidedAlready(c, outcome.approval, "approval_expired", `Approval ${id} expired before it was decided: it counts as denied.`);
      }
      return decidedAlready(
        c,
        outcome.approval,
        "approval_already_decided",
        `Approval ${id} was already ${outcome.approval.status}: the first decision stands.`,
      );
    case "expired":
      return decidedAlready(c, outcome.approval, "approval_expired", `Approval ${id} expired before it was decided: it counts as denied.`);
    case "not_this_step":
    case "incomplete":
      return decidedAlready(c, null, "approval_not_current", `Approval ${id} is not one the conversation is waiting for.`);
  }
});

/** 409 with the decision that stands, so the client sees what happened instead of guessing. */
function decidedAlready(c: Context<AppEnv>, approval: Approval | null, code: string, message: string): Response {
  const error = { message, type: "invalid_request_error", param: null, code };
  return c.json({ error, ...(approval ? { approval: approvalView(approval) } : {}) }, 409);
}

function approvalId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  // A malformed id is as unknown as a forged one: the same 404, so nothing is learned from the difference.
  if (!APPROVAL_ID.test(id)) throw notFound(id.slice(0, 100));
  return id;
}

function notFound(id: string): ApiError {
  return new ApiError(404, `No approval ${id}.`, { type: "invalid_request_error", param: "id", code: "approval_not_found" });
}
