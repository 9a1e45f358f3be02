// One load run: `connections` keep-alive connections, each sending the next POST as soon as the last
// answer arrived (closed loop), for `seconds`. autocannon drives the sockets (its client is far cheaper
// per request than fetch, which matters on 2 cores); latencies come from its per-response event, in
// fractional milliseconds, because its own histogram keeps whole milliseconds only.
// A run can also send a sequence of requests per connection (autocannon's `requests`: see
// scripts/bench/conversation.mjs), some of them setup that is not timed.

import autocannon from "autocannon";

/**
 * `requests` (optional) is autocannon's per-connection sequence; `untimed()`, asked as each response
 * arrives, says whether it answered setup (not timed, not in `ok`; still in the status counts and, when
 * not 2xx, in `non2xx`).
 * @returns {Promise<{ latencies: number[], ok: number, untimed: number, errors: number, non2xx: number, timeouts: number, seconds: number, statusCodes: Record<string, number> }>}
 */
export function runLoad({ url, body, headers = {}, connections, seconds, timeoutSeconds = 30, requests, untimed = () => false }) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let setup = 0;
    const instance = autocannon(
      {
        url,
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: timeoutSeconds,
        sampleInt: 100,
        // Record every response, not only 2xx, so the per-status counts are complete.
        excludeErrorStats: false,
        ...(requests ? { requests } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]));
        resolve({
          latencies,
          ok: latencies.length,
          untimed: setup,
          errors: result.errors,
          non2xx: result.non2xx,
          timeouts: result.timeouts,
          seconds: result.duration,
          statusCodes,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (untimed()) setup++;
      else latencies.push(responseTime);
    });
  });
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
