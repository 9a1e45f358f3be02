// A failed call to the model, carrying the status the orchestrator should answer with and the
// upstream's own error where it sent one. The loop throws it; only the HTTP layer turns it into JSON.

export class UpstreamError extends Error {
  /** The status to answer the client with (not necessarily the upstream's). */
  readonly status: number;
  readonly upstreamStatus: number | null;
  readonly code: string | number | null;
  readonly type: string;
  readonly param: string | null;

  constructor(
    message: string,
    options: {
      status: number;
      upstreamStatus?: number | null;
      code?: string | number | null;
      type?: string;
      param?: string | null;
    },
  ) {
    super(message);
    this.name = "UpstreamError";
    this.status = options.status;
    this.upstreamStatus = options.upstreamStatus ?? null;
    this.code = options.code ?? null;
    this.type = options.type ?? "upstream_error";
    this.param = options.param ?? null;
  }
}
