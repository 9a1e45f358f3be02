// Structured logs: one JSON object per line, with the request's id and tenant on every line.
// Every line and every value passes through redaction of the configured secrets, so a key that an
// upstream echoes in an error message never reaches the logs.

export type LogLevel = "info" | "warn" | "error";
export type LogFields = { [field: string]: unknown };

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  with(fields: LogFields): Logger;
  redact(text: string): string;
}

const REDACTED = "[REDACTED]";
/** Shorter strings are too likely to occur by chance to be worth masking. */
const MIN_SECRET_LENGTH = 6;

export function createLogger(base: LogFields, secrets: readonly string[]): Logger {
  const masks = [...new Set(secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH))].sort((left, right) => right.length - left.length);
  const redact = (text: string): string => {
    let result = text;
    for (const secret of masks) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    // Bearer tokens are masked even when they are not ours (a client's wrong key, say).
    return /bearer/i.test(result) ? result.replace(/(Bearer\s+)[^\s"',]+/gi, `$1${REDACTED}`) : result;
  };
  const write = (level: LogLevel, event: string, fields: LogFields = {}) => {
    const line = redact(JSON.stringify({ level, event, time: new Date().toISOString(), ...base, ...fields }));
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
    with: (fields) => createLogger({ ...base, ...fields }, masks),
    redact,
  };
}
