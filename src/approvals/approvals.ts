// The caller's side of approvals, as the composition root hands it to the doors: read one (its id
// names the home that keeps it), list a tenant's (through its directory), decide (in the home, where
// the first decision wins and the turn continues).

import type { DecisionOutcome } from "../conversations/home.js";
import { directoryOf, homeByHex, homeOf as homeByName, homeHexOf } from "../conversations/names.js";
import type { Env } from "../env.js";
import { readEvents } from "../runs/runs.js";
import type { RunSpec, SequencedEvent } from "../runs/types.js";
import type { DecideOutcome, GateOutcome } from "./book.js";
import type { Approval, ApprovalStatus, Decision } from "./types.js";

export type Decided = DecideOutcome & { events?: AsyncIterable<SequencedEvent>; continuation?: DecisionOutcome["continuation"] };

export interface Approvals {
  get(tenant: string, id: string): Promise<Approval | null>;
  list(tenant: string, options: { status: ApprovalStatus | null; limit: number; after: string | null }): Promise<{ data: Approval[]; has_more: boolean }>;
  /**
   * Decides approvals of one parked step (all in the same conversation: the first one's home decides).
   * `spec` is the continuation a door made; without it the home makes one from the run that parked.
   */
  /** An MCP client's call of a tool that waits for a person, in the home of the conversation it works in (see ApprovalBook.gateCall). */
  gateCall(tenant: string, conversationId: string, request: Approval): Promise<GateOutcome>;
  decide(
    tenant: string,
    decisions: Array<{ id: string } & Decision>,
    spec: RunSpec | null,
    options?: { follow: boolean; stop?: AbortSignal },
  ): Promise<Decided>;
}

export function createApprovals(env: Env): Approvals {
  const homeOf = (id: string) => {
    const hex = homeHexOf("apr", id);
    return hex ? homeByHex(env, hex) : null;
  };
  return {
    async get(tenant, id) {
      return (await homeOf(id)?.approval(tenant, id)) ?? null;
    },
    list(tenant, { status, limit, after }) {
      return directoryOf(env, tenant).listApprovals(status, limit, after);
    },
    gateCall: (tenant, conversationId, request) => homeByName(env, tenant, conversationId).gateCall(tenant, conversationId, request),
    async decide(tenant, decisions, spec, options) {
      const first = decisions[0];
      const home = first ? homeOf(first.id) : null;
      if (!first || !home) return { status: "not_found", id: first?.id ?? "" };
      // RPC's types lose a stream inside a union; the object answers exactly a DecisionOutcome.
      const outcome = (await home.decide(tenant, decisions, spec, options?.follow === true)) as DecisionOutcome;
      const { events, ...rest } = outcome;
      return (events ? { ...rest, events: readEvents(events, options?.stop) } : rest) as Decided;
    },
  };
}
