// Work that finishes after the response (a queue consumer, a stored partial turn) is awaited by
// polling what a client can see, never by a fixed sleep.

/** Polls `probe` until it returns something other than null, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() - started > timeoutMs) throw new Error("Timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
