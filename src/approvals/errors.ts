// What goes wrong around approvals, as domain errors (http/error-body.ts gives them their status).

/** A turn of the conversation waits for a person: no other turn runs until it is decided. */
export class ApprovalPendingError extends Error {
  constructor(
    readonly conversationId: string,
    readonly approvals: readonly string[],
  ) {
    super(
      `Conversation ${conversationId} has a turn waiting for approval (${approvals.join(", ")}): decide it with POST /v1/approvals/{id} (or an mcp_approval_response) before sending another turn.`,
    );
    this.name = "ApprovalPendingError";
  }
}

/** A call needs approval in a turn that keeps nothing: it cannot wait for anyone. */
export class ApprovalNeedsStoreError extends Error {
  constructor(readonly tools: string[]) {
    super(`${tools.join(", ")} needs a person's approval, and a turn with store: false cannot wait for one: send the request with store: true.`);
    this.name = "ApprovalNeedsStoreError";
  }
}
