// A run as the Responses API shows it: the response object and its event stream, built from the run's
// events. The same events always build the same stream (item ids count from the response's token,
// sequence numbers from 0), so the object that keeps the run, a client streaming it live and a
// client resuming with `starting_after` all see one stream, numbered once.

import { OutputBuilder, serverResult } from "../protocol/responses/output.js";
import { itemIds } from "../protocol/responses/references.js";
import { failedResponse, finishedResponse } from "../protocol/responses/response.js";
import type { ResponseEvent, ResponseObject, ResponseStatus } from "../protocol/responses/types.js";
import type { ResponsesDoor, RunEvent, RunResult } from "./types.js";

/** A Responses stream event with its number. */
export type NumberedEvent = ResponseEvent & { sequence_number: number };

/** OpenAI has no reason for a turn cut off by the server's deadline; this one says so. */
export const DEADLINE_REASON = "turn_deadline";

export class ResponsesView {
  private sequence = 0;
  private readonly builder: OutputBuilder;
  private final: ResponseObject | null = null;
  private status: ResponseStatus;

  constructor(
    private readonly door: ResponsesDoor,
    private readonly emit: (event: NumberedEvent) => void = () => undefined,
  ) {
    this.builder = new OutputBuilder((event) => this.send(event), itemIds(door.token));
    this.status = door.shell.background ? "queued" : "in_progress";
  }

  /** How many stream events the run has produced so far (the next one's sequence number). */
  get count(): number {
    return this.sequence;
  }

  /** The response as it stands: its status and the output so far, or the finished response. */
  get response(): ResponseObject {
    return this.final ?? { ...this.door.shell, status: this.status, output: this.builder.items.map((item) => structuredClone(item)) };
  }

  apply(event: RunEvent): void {
    switch (event.type) {
      case "started":
        this.send({ type: "response.created", response: this.response });
        this.status = "in_progress";
        this.send({ type: "response.in_progress", response: this.response });
        return;
      case "delta":
        if (event.delta.reasoning_content) this.builder.reasoning(event.delta.reasoning_content);
        if (event.delta.content) this.builder.text(event.delta.content);
        if (event.delta.refusal) this.builder.text(event.delta.refusal);
        return;
      case "tool_calls":
        this.builder.serverCalls(event.calls);
        return;
      case "tool_result":
        this.builder.serverResult(event.call.id, serverResult(event.content, !event.ok));
        return;
      case "approval_requested":
        this.builder.approvalRequests(event.approvals);
        return;
      case "completed": {
        const response = this.finished(event.result);
        this.send({ type: response.status === "completed" ? "response.completed" : "response.incomplete", response });
        return;
      }
      case "failed": {
        this.builder.endStep();
        const { code, message, param } = event.failure.body.error;
        if (code === "turn_deadline_exceeded") {
          this.final = { ...this.door.shell, status: "incomplete", incomplete_details: { reason: DEADLINE_REASON }, output: this.builder.items };
          this.send({ type: "response.incomplete", response: this.final });
          return;
        }
        this.final = failedResponse(this.door.shell, this.builder.items, { code, message });
        this.send({ type: "error", code: code === null ? null : String(code), message, param });
        this.send({ type: "response.failed", response: this.final });
        return;
      }
      case "cancelled":
        this.builder.endStep();
        this.final = { ...this.door.shell, status: "cancelled", output: this.builder.items };
        return;
      default:
        return;
    }
  }

  /** The finished response (built once: the commit keeps exactly what the stream ends with). */
  finished(result: RunResult): ResponseObject {
    if (this.final) return this.final;
    const choice = result.completion.choices[0];
    this.builder.clientCalls(choice?.finish_reason === "tool_calls" ? (choice.message.tool_calls ?? []) : []);
    this.builder.endStep();
    this.final = finishedResponse(this.door.shell, this.builder.items, {
      finishReason: choice?.finish_reason,
      usage: result.usage,
      model: result.completion.model,
    });
    return this.final;
  }

  private send(event: ResponseEvent): void {
    this.emit({ ...event, sequence_number: this.sequence++ });
  }
}
