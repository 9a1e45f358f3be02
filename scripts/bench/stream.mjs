// Streaming: how long a client waits for the first content of an answer. One keep-alive connection
// (concurrency 1), one request at a time; per request, the time from sending it to the arrival of the
// first SSE event whose delta carries content (what a chat UI can show), and to `data: [DONE]`.
// node:http rather than fetch: the same few microseconds of client work for every target.

import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One streamed request: { firstContentMs, doneMs, ok }. */
function streamOnce(url, body, headers) {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstContentMs = null;
    let buffer = "";
    let done = false;
    const request = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (response) => {
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        buffer += chunk;
        let cut = buffer.indexOf("\n\n");
        while (cut >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          cut = buffer.indexOf("\n\n");
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") {
              done = true;
              continue;
            }
            if (firstContentMs !== null) continue;
            try {
              const content = JSON.parse(data)?.choices?.[0]?.delta?.content;
              if (typeof content === "string" && content.length > 0) firstContentMs = performance.now() - started;
            } catch {}
          }
        }
      });
      response.on("end", () =>
        resolve({ firstContentMs, doneMs: performance.now() - started, ok: response.statusCode === 200 && done && firstContentMs !== null }),
      );
      response.on("error", () => resolve({ firstContentMs, doneMs: null, ok: false }));
    });
    request.on("error", () => resolve({ firstContentMs: null, doneMs: null, ok: false }));
    request.end(body);
  });
}

/** `count` sequential streamed requests (or until `seconds` passed): first-content and done times of the good ones. */
export async function runStream({ url, body, headers, count, seconds }) {
  const firstContent = [];
  const done = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  for (let index = 0; index < count && performance.now() < until; index++) {
    const result = await streamOnce(url, body, headers);
    if (!result.ok) {
      errors++;
      continue;
    }
    firstContent.push(result.firstContentMs);
    done.push(result.doneMs);
  }
  return { firstContent, done, errors };
}
