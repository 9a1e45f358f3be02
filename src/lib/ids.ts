// Random identifiers. Letters and digits only, so an id is safe in a URL, a KV key and a log line.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** The largest multiple of the alphabet's size below 256: bytes at or above it are drawn again, so every character is equally likely. */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

export function randomToken(length: number): string {
  let token = "";
  while (token.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      if (byte < UNBIASED_LIMIT && token.length < length) token += ALPHABET[byte % ALPHABET.length];
    }
  }
  return token;
}

/** `bytes` random bytes as lowercase hex, never all zeros (W3C trace and span ids must not be). */
export function randomHex(bytes: number): string {
  for (;;) {
    const hex = [...crypto.getRandomValues(new Uint8Array(bytes))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    if (/[^0]/.test(hex)) return hex;
  }
}
