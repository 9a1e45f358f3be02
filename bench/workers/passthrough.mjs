// The bench's floor inside the runtime: a Worker that forwards the request body to the upstream with
// fetch and returns its response. Whatever the orchestrator costs above this Worker is its own.
export default {
  async fetch(request, env) {
    return fetch(env.UPSTREAM_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${env.UPSTREAM_API_KEY}` },
      body: request.body,
    });
  },
};
