// Cloudflare caps one request at 32 Worker invocations, service-binding calls included. Each request
// gets a budget; discovery and every tool call draw from it, and a call the budget cannot cover
// becomes an error the model reads instead of a platform failure that loses the turn.

export const PLATFORM_INVOCATIONS_PER_REQUEST = 32;

export class InvocationBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  tryTake(): boolean {
    if (this.used >= this.limit) return false;
    this.used += 1;
    return true;
  }

  get remaining(): number {
    return this.limit - this.used;
  }

  get spent(): number {
    return this.used;
  }
}
