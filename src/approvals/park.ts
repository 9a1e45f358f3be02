// A turn parks: each call that waits gets an approval (an unguessable id that names the
// conversation's home, the exact arguments and their hash, who asked, when it expires), and the
// answer the chat door gives says what waits and where to decide it, in words a naive client shows
// as text and cannot mistake for a call of its own to run.

import { sha256Hex } from "../lib/hash.js";
import type { TurnResult } from "../loop/tool-loop.js";
import { SERVER_LABEL } from "../protocol/responses/output.js";
import type { ChatCompletion } from "../protocol/types.js";
import type { TurnRequest, TurnServices } from "../run-turn.js";
import type { RunSpec } from "../runs/types.js";
import type { ServerTool } from "../tools/registry.js";
import type { Approval, ParkedStep } from "./types.js";
import { approvalView } from "./types.js";

export const APPROVAL_PREFIX = "apr";

export async function parkStep(
  services: TurnServices,
  request: TurnRequest,
  origin: RunSpec,
  door: string,
  turnId: string,
  stopped: NonNullable<TurnResult["parked"]>,
  serverTools: readonly ServerTool[],
  keyTurnId: string | undefined,
): Promise<ParkedStep> {
  const now = Date.now();
  const approvals = await Promise.all(
    stopped.awaiting.map(async (call): Promise<Approval> => {
      const tool = serverTools.find((candidate) => candidate.name === call.function.name);
      return {
        id: `${APPROVAL_PREFIX}_${services.homes.responseToken(request.tenant, request.conversationId)}`,
        object: "approval",
        kind: "turn",
        status: "pending",
        conversation_id: request.conversationId,
        turn_id: turnId,
        tool_call_id: call.id,
        tool: call.function.name,
        server_label: tool?.mcp?.server ?? SERVER_LABEL,
        name: tool?.mcp?.tool ?? call.function.name,
        arguments: call.function.arguments,
        arguments_sha256: await sha256Hex(call.function.arguments),
        requested_by: { tenant: request.tenant, request_id: request.requestId, door },
        created_at: now,
        expires_at: now + services.config.approvals.ttlSeconds * 1000,
        decided_at: null,
        reason: null,
        continuation: null,
      };
    }),
  );
  return {
    turn_id: keyTurnId ?? turnId,
    step: stopped.step,
    completion: stopped.completion,
    assistant: stopped.assistant,
    results: stopped.results,
    usage: null,
    approvals,
    origin,
  };
}

/** What the chat door says of calls that wait: each tool, its arguments, and where to decide. */
export function approvalNotice(approvals: readonly Approval[]): string {
  const lines = approvals.map(
    (approval) =>
      `- ${approval.tool} ${approval.arguments} (approval ${approval.id}: POST /v1/approvals/${approval.id} with {"approve": true} or {"approve": false})`,
  );
  return `Waiting for approval before running:\n${lines.join("\n")}`;
}

/**
 * The chat door's answer to a parked turn: an assistant message that says what waits for approval
 * and how to decide it, finish_reason `stop` (there is nothing for the client to run), and the
 * approvals themselves in `pending_approvals` for a client that knows to look.
 */
export function parkedCompletion(completion: ChatCompletion, parked: ParkedStep): ChatCompletion {
  const said = parked.assistant.content;
  const lines = parked.approvals.map(
    (approval) =>
      `- ${approval.tool} ${approval.arguments} (approval ${approval.id}: POST /v1/approvals/${approval.id} with {"approve": true} or {"approve": false})`,
  );
  const notice = `Waiting for approval before running:\n${lines.join("\n")}`;
  const content = typeof said === "string" && said.trim() ? `${said}\n\n${notice}` : notice;
  const [first, ...others] = completion.choices;
  return {
    ...completion,
    choices: [{ ...(first ?? { index: 0 }), index: 0, message: { role: "assistant", content }, finish_reason: "stop" }, ...others],
    pending_approvals: parked.approvals.map(approvalView),
  };
}
