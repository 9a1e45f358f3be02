// Signature verification on the raw bytes, through WebCrypto's HMAC verify (constant time).
// Standard Webhooks: `{id}.{timestamp}.{body}` signed with the base64 secret after `whsec_`, any of
// several space-separated `v1,<base64>` signatures may match (rotation), timestamp within ±300 s.
// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body, with the secret as UTF-8.

export const TIMESTAMP_TOLERANCE_SECONDS = 300;

export type Verification = { ok: true; deliveryId: string } | { ok: false; reason: string };

const encoder = new TextEncoder();

async function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify", "sign"]);
}

function base64ToBytes(text: string): Uint8Array | null {
  try {
    const binary = atob(text);
    return Uint8Array.from(binary, (character) => character.charCodeAt(0));
  } catch {
    return null;
  }
}

function hexToBytes(text: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(text)) return null;
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.byteLength;
  }
  return result;
}

export function standardWebhooksSecret(secret: string): Uint8Array | null {
  return base64ToBytes(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
}

export async function verifyStandardWebhook(
  headers: Headers,
  body: Uint8Array,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<Verification> {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures) return { ok: false, reason: "Missing webhook-id, webhook-timestamp or webhook-signature." };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not a Unix time in seconds." };
  if (Math.abs(nowSeconds - Number(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS) {
    return { ok: false, reason: `webhook-timestamp is more than ${TIMESTAMP_TOLERANCE_SECONDS} s from now.` };
  }
  const keyBytes = standardWebhooksSecret(secret);
  if (!keyBytes) return { ok: false, reason: "The hook's signing secret is not valid base64." };
  const key = await hmacKey(keyBytes);
  const signed = concat(encoder.encode(`${id}.${timestamp}.`), body);
  for (const entry of signatures.split(" ")) {
    const [version, signature] = entry.split(",", 2);
    if (version !== "v1" || !signature) continue;
    const bytes = base64ToBytes(signature);
    if (bytes && (await crypto.subtle.verify("HMAC", key, bytes, signed))) return { ok: true, deliveryId: id };
  }
  return { ok: false, reason: "No webhook-signature matches." };
}

export async function verifyGitHub(headers: Headers, body: Uint8Array, secret: string): Promise<Verification> {
  const header = headers.get("x-hub-signature-256");
  if (!header?.startsWith("sha256=")) return { ok: false, reason: "Missing X-Hub-Signature-256." };
  const bytes = hexToBytes(header.slice("sha256=".length));
  if (!bytes) return { ok: false, reason: "X-Hub-Signature-256 is not hex." };
  const key = await hmacKey(encoder.encode(secret));
  if (!(await crypto.subtle.verify("HMAC", key, bytes, body))) return { ok: false, reason: "X-Hub-Signature-256 does not match." };
  const delivery = headers.get("x-github-delivery");
  if (!delivery) return { ok: false, reason: "Missing X-GitHub-Delivery." };
  return { ok: true, deliveryId: delivery };
}

/** Signs an outgoing Standard Webhooks message (the callback), as any Standard Webhooks library verifies it. */
export async function signStandardWebhook(id: string, timestamp: number, body: string, secret: string): Promise<string> {
  const keyBytes = standardWebhooksSecret(secret);
  if (!keyBytes) throw new Error("The callback secret is not a valid whsec_ secret.");
  const key = await hmacKey(keyBytes);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`)));
  return `v1,${btoa(String.fromCharCode(...signature))}`;
}
