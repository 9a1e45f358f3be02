import { describe, expect, it } from "vitest";
import { OriginNotAllowedError, originFetch, type ToolFetch } from "./fetch.js";

/** A fake network: each URL's answer, and the URLs asked for, in order. */
function network(routes: Record<string, () => Response>): { fetch: ToolFetch; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    fetch: async (input) => {
      const url = String(input);
      seen.push(url);
      const route = routes[url];
      if (!route) throw new Error(`unexpected fetch ${url}`);
      return route();
    },
  };
}

const redirect =
  (location: string, status = 302) =>
  () =>
    new Response(null, { status, headers: { Location: location } });

describe("originFetch", () => {
  it("fetches only the configured origins", async () => {
    const net = network({ "https://api.example.com/v1/a": () => new Response("ok") });
    const guarded = originFetch(["https://api.example.com/v1/search", undefined, "not a url"], net.fetch);

    expect(await (await guarded("https://api.example.com/v1/a")).text()).toBe("ok");
    await expect(guarded("https://evil.example/probe")).rejects.toBeInstanceOf(OriginNotAllowedError);
    await expect(guarded("http://api.example.com/v1/a")).rejects.toBeInstanceOf(OriginNotAllowedError);
    expect(net.seen).toEqual(["https://api.example.com/v1/a"]);
  });

  it("refuses a redirect to another host without fetching it", async () => {
    const net = network({ "https://api.example.com/a": redirect("https://internal.example/internal-probe") });
    const error = await originFetch(["https://api.example.com"], net.fetch)("https://api.example.com/a").catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OriginNotAllowedError);
    expect(String((error as Error).message)).toContain("redirected to https://internal.example");
    expect(net.seen).toEqual(["https://api.example.com/a"]);
  });

  it("follows redirects within the configured origins, a POST answered 303 continuing as a GET", async () => {
    const net = network({
      "https://a.example.com/start": redirect("/next", 303),
      "https://a.example.com/next": redirect("https://b.example.com/end", 307),
      "https://b.example.com/end": () => new Response("done"),
    });
    const guarded = originFetch(["https://a.example.com", "https://b.example.com"], net.fetch);

    expect(await (await guarded("https://a.example.com/start", { method: "POST", body: "x" })).text()).toBe("done");
    expect(net.seen).toEqual(["https://a.example.com/start", "https://a.example.com/next", "https://b.example.com/end"]);
  });

  it("stops after five redirects", async () => {
    const net = network({ "https://a.example.com/loop": redirect("/loop") });
    await expect(originFetch(["https://a.example.com"], net.fetch)("https://a.example.com/loop")).rejects.toThrow(/more than 5 times/);
    expect(net.seen).toHaveLength(6);
  });
});
