// The bench's handle on the orchestrator's CONVERSATIONS namespace (bound here to the same namespace).
// Miniflare's local KV lists with a full table scan, so every turn costs more the more keys the
// namespace holds; the bench empties it before each run so that every run starts from the same state.
//
//   POST /purge  -> {"deleted": n}     GET /count -> {"keys": n}
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/count") {
      let keys = 0;
      let cursor;
      do {
        const page = await env.KV.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
        keys += page.keys.length;
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return Response.json({ keys });
    }
    if (pathname === "/purge" && request.method === "POST") {
      let deleted = 0;
      for (;;) {
        const page = await env.KV.list({ limit: 1000 });
        if (page.keys.length === 0) break;
        await Promise.all(page.keys.map((key) => env.KV.delete(key.name)));
        deleted += page.keys.length;
      }
      return Response.json({ deleted });
    }
    return new Response("POST /purge or GET /count", { status: 404 });
  },
};
