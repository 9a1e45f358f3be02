// Outbound fetch for tools: only to the origins a tool declares (from its configuration), and
// redirects followed only while they stay within them. A tool that talks to one API cannot be
// steered by that API (or whoever answers in its place) into fetching another host and handing
// its content to the model. Tools get it as `context.fetch`; the kit builds it from `origins`.

export type ToolFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch the kit refused; the kit answers it as an upstream error the model can read. */
export class OriginNotAllowedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OriginNotAllowedError";
  }
}

export const MAX_REDIRECTS = 5;

function originOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? [parsed.origin] : [];
  } catch {
    return [];
  }
}

/** A fetch limited to the origins of `allowed` (URLs; unset or invalid entries allow nothing). */
export function originFetch(allowed: ReadonlyArray<string | undefined>, base: ToolFetch = (input, init) => fetch(input, init)): ToolFetch {
  const origins = new Set(allowed.flatMap(originOf));
  return async (input, init = {}) => {
    let url = new URL(String(input));
    let request: RequestInit = { ...init, redirect: "manual" };
    for (let redirects = 0; ; redirects++) {
      if (!origins.has(url.origin)) {
        throw new OriginNotAllowedError(
          redirects === 0
            ? `This tool may not fetch ${url.origin}: it is not one of its configured origins.`
            : `The service redirected to ${url.origin}, which is not one of this tool's configured origins; the redirect was not followed.`,
        );
      }
      const response = await base(url, request);
      const location = response.headers.get("Location");
      if (response.status < 300 || response.status > 399 || location === null) return response;
      if (redirects === MAX_REDIRECTS) throw new OriginNotAllowedError(`The service redirected more than ${MAX_REDIRECTS} times.`);
      await response.body?.cancel();
      url = new URL(location, url);
      // As browsers do: a 303, or a 301/302 after a POST, continues as a GET without a body.
      const method = (request.method ?? "GET").toUpperCase();
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        const { body: _body, ...rest } = request;
        request = { ...rest, method: "GET" };
      }
    }
  };
}
