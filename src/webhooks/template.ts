// `{{path.to.field}}` over a JSON payload: dots walk objects, numbers index arrays, strings and
// numbers print as they are, anything else as JSON, and a missing field as nothing. No logic, so a
// payload can never make a template do more than show its own fields.

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

export function lookup(payload: unknown, path: string): unknown {
  let value: unknown = payload;
  for (const segment of path.split(".")) {
    // Own fields only: `__proto__` or `constructor` must not reach into the prototype chain.
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

export function renderTemplate(template: string, payload: unknown): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => {
    const value = lookup(payload, path);
    if (value === undefined || value === null) return "";
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
  });
}
