// Redaction of configured secrets from every string that leaves the orchestrator (error messages,
// stream error events, webhook records and callbacks, log lines). A secret is masked in every form an
// echo is likely to take: as is, URL-encoded (path and form style), JSON-escaped, and base64 or
// base64url encoded at any of the three byte alignments (so it is found inside a longer encoded
// string such as a Basic credential). Bearer tokens are masked even when they are not ours.

export const REDACTED = "[REDACTED]";
/** Shorter strings are too likely to occur by chance to be worth masking. */
export const MIN_SECRET_LENGTH = 6;
/** Encoded fragments shorter than this would mask innocent text. */
const MIN_FORM_LENGTH = 6;

export type Redact = (text: string) => string;

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The part of base64(prefix + secret) that depends on the secret's bytes only, for prefixes of 0, 1
 * and 2 bytes: whatever surrounds the secret in a longer encoded string, one of these appears.
 */
function base64Cores(secret: string): string[] {
  const bytes = encoder.encode(secret);
  const cores: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const padded = new Uint8Array(offset + bytes.length);
    padded.set(bytes, offset);
    const encoded = base64(padded);
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = encoded.slice(start, end);
    cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

/** Every form of one secret worth masking. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  // A Standard Webhooks secret is `whsec_` + base64 key: the key alone is as secret.
  if (secret.startsWith("whsec_")) forms.add(secret.slice("whsec_".length));
  for (const form of [...forms]) {
    const component = encodeURIComponent(form);
    forms.add(component);
    forms.add(component.replace(/%[0-9A-F]{2}/g, (percent) => percent.toLowerCase()));
    forms.add(new URLSearchParams({ s: form }).toString().slice(2));
    forms.add(JSON.stringify(form).slice(1, -1));
    for (const core of base64Cores(form)) forms.add(core);
  }
  return [...forms].filter((form) => form.length >= MIN_FORM_LENGTH);
}

// A client's wrong key is masked too; `<key>` and our own placeholder are not tokens.
const BEARER = /(Bearer\s+)(?!\[REDACTED\]|<[A-Za-z_-]*>)[^\s"',]+/gi;

/**
 * Up to this many masks, a text is searched for each in turn (`includes` is fast). Beyond it (a few
 * secrets, each in a dozen forms), one pass over the text through an index of the masks' first
 * characters costs the same whatever the number of secrets: many tenants' keys must not make every
 * log line, error and trace cost more. Masks are indexed by their first four characters.
 */
const MASKS_SEARCHED_IN_TURN = 64;

export function createRedactor(secrets: readonly string[]): Redact {
  const masks = [...new Set(secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH).flatMap(secretForms))].sort(
    (left, right) => right.length - left.length,
  );
  const containsAny = masks.length > MASKS_SEARCHED_IN_TURN ? indexedSearch(masks) : null;
  return (text) => {
    let result = text;
    // Nearly every text holds no secret: the indexed pass says so at once, and the masking below
    // (longest form first) runs only for a text that does.
    if (!containsAny || containsAny(text)) {
      for (const mask of masks) if (result.includes(mask)) result = result.split(mask).join(REDACTED);
    }
    return /bearer/i.test(result) ? result.replace(BEARER, `$1${REDACTED}`) : result;
  };
}

/** Whether any of `masks` (each at least MIN_FORM_LENGTH characters long) occurs in a text, in one pass over it. */
function indexedSearch(masks: readonly string[]): (text: string) => boolean {
  const prefixHash = (text: string, at: number) =>
    (((text.charCodeAt(at) * 31 + text.charCodeAt(at + 1)) * 31 + text.charCodeAt(at + 2)) * 31 + text.charCodeAt(at + 3)) | 0;
  const byPrefix = new Map<number, string[]>();
  // A cheap first test per position, before the map: most positions start no mask.
  const seen = new Uint8Array(1 << 16);
  for (const mask of masks) {
    const hash = prefixHash(mask, 0);
    const bucket = byPrefix.get(hash);
    if (bucket) bucket.push(mask);
    else byPrefix.set(hash, [mask]);
    seen[hash & 0xffff] = 1;
  }
  const shortest = Math.min(...masks.map((mask) => mask.length));
  return (text) => {
    for (let at = 0; at + shortest <= text.length; at++) {
      const hash = prefixHash(text, at);
      if (seen[hash & 0xffff] === 0) continue;
      for (const mask of byPrefix.get(hash) ?? []) if (text.startsWith(mask, at)) return true;
    }
    return false;
  };
}
