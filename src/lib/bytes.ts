// Sizes that limits are stated in (KV values and metadata, conversation and tool-definition budgets)
// are UTF-8 bytes, not string length.

export function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
