// Structured logs: one JSON object per line, with the request's id and tenant on every line.
// Every line and every value passes through redaction of the configured secrets, so a key that an
// upstream echoes in an error message never reaches the logs.

import type { Redact } from "./security/redact.js";
import { createRedactor } from "./security/redact.js";

export type LogLevel = "info" | "warn" | "error";
export type LogFields = { [field: string]: unknown };

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  with(fields: LogFields): Logger;
  redact(text: string): string;
}

// Building a redactor (every secret in every encoded form) is the costly part of a logger; the
// secrets change only with a new deploy, so one per isolate serves every request.
let cachedRedactor: { secrets: string; redact: Redact } | undefined;

export function createLogger(base: LogFields, secrets: readonly string[]): Logger {
  const key = secrets.join("\n");
  if (cachedRedactor?.secrets !== key) cachedRedactor = { secrets: key, redact: createRedactor(secrets) };
  return loggerWith(base, cachedRedactor.redact);
}

function loggerWith(base: LogFields, redact: Redact): Logger {
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
    with: (fields) => loggerWith({ ...base, ...fields }, redact),
    redact,
  };
}
