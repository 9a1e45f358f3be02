// SHA-256 as hex: storage keys, claim keys and ids derived from what must stay stable (a delivery,
// an Idempotency-Key), never the raw value.

export async function sha256(data: string | Uint8Array): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", typeof data === "string" ? new TextEncoder().encode(data) : data);
}

/** The digest as lowercase hex, cut to its first `bytes` bytes when given. */
export async function sha256Hex(data: string | Uint8Array, bytes?: number): Promise<string> {
  return toHex(await sha256(data), bytes);
}

export function toHex(buffer: ArrayBuffer, bytes = buffer.byteLength): string {
  return [...new Uint8Array(buffer).slice(0, bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
