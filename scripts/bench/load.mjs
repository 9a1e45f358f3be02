// One load run: `connections` keep-alive connections, each sending the next POST as soon as the last
// answer arrived (closed loop), for `seconds`. autocannon drives the sockets (its client is far cheaper
// per request than fetch, which matters on 2 cores); latencies come from its per-response event, in
// fractional milliseconds, because its own histogram keeps whole milliseconds only.

import autocannon from "autocannon";

/**
 * @returns {Promise<{ latencies: number[], ok: number, errors: number, non2xx: number, timeouts: number, seconds: number, statusCodes: Record<string, number> }>}
 */
export function runLoad({ url, body, headers = {}, connections, seconds, timeoutSeconds = 30 }) {
  return new Promise((resolve, reject) => {
    const latencies = [];
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
      },
      (error, result) => {
        if (error) return reject(error);
        const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]));
        resolve({
          latencies,
          ok: latencies.length,
          errors: result.errors,
          non2xx: result.non2xx,
          timeouts: result.timeouts,
          seconds: result.duration,
          statusCodes,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
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
