import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { claimIdempotencyKey } from "../../src/idempotency.js";
import { claimKey, createClaims } from "../../src/ledger/claims.js";
import type { Ledger } from "../../src/ledger/ledger.js";

const namespace = (env as unknown as { LEDGER: DurableObjectNamespace<Ledger> }).LEDGER;
const claims = createClaims(namespace);
const lease = { leaseMs: 60_000 };
const uniqueKey = (label: string) => claimKey("idempotency", label, crypto.randomUUID());

describe("ledger claims", () => {
  it("grants one of many concurrent claims on a key, and tells the others it is running", async () => {
    const key = uniqueKey("concurrent");
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => claims.claim(key, "body", lease)));
    expect(outcomes.filter((outcome) => outcome.status === "claimed")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === "running")).toHaveLength(9);
  });

  it("replays the settled result to a later claim, and says whether its fingerprint matches", async () => {
    const key = uniqueKey("settled");
    const first = await claims.claim(key, "body", lease);
    if (first.status !== "claimed") throw new Error("expected a claim");
    expect(await claims.settle(key, first.token, '{"answer":42}', 60_000)).toBe(true);

    expect(await claims.claim(key, "body", lease)).toEqual({ status: "done", same: true, result: '{"answer":42}' });
    expect(await claims.claim(key, "another body", lease)).toMatchObject({ status: "done", same: false });
  });

  it("hands a waiting duplicate the result as soon as the holder settles", async () => {
    const key = uniqueKey("waiter");
    const first = await claims.claim(key, "body", lease);
    if (first.status !== "claimed") throw new Error("expected a claim");
    const waiting = claims.claim(key, "body", { ...lease, waitMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await claims.settle(key, first.token, '"done"', 60_000);
    expect(await waiting).toEqual({ status: "done", same: true, result: '"done"' });
  });

  it("tells a waiting duplicate when the holder releases, and lets the next claim run", async () => {
    const key = uniqueKey("released");
    const first = await claims.claim(key, "body", lease);
    if (first.status !== "claimed") throw new Error("expected a claim");
    const waiting = claims.claim(key, "body", { ...lease, waitMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await claims.release(key, first.token)).toBe(true);
    expect(await waiting).toEqual({ status: "released" });
    expect(await claims.claim(key, "body", lease)).toMatchObject({ status: "claimed", takeover: false });
  });

  it("does not make a duplicate with another fingerprint wait", async () => {
    const key = uniqueKey("mismatch-running");
    await claims.claim(key, "body", lease);
    expect(await claims.claim(key, "other", { ...lease, waitMs: 30_000 })).toMatchObject({ status: "running", same: false });
  });

  it("lets a new claim take over once a holder's lease ran out without a settle", async () => {
    const key = uniqueKey("takeover");
    const dead = await claims.claim(key, "body", { leaseMs: 30 });
    if (dead.status !== "claimed") throw new Error("expected a claim");
    await new Promise((resolve) => setTimeout(resolve, 60));
    const next = await claims.claim(key, "body", lease);
    expect(next).toMatchObject({ status: "claimed" });
    // The dead holder can no longer settle or release what is no longer its claim.
    expect(await claims.settle(key, dead.token, "late", 60_000)).toBe(false);
    expect(await claims.release(key, dead.token)).toBe(false);
  });

  it("deletes settled claims once they expire, on its own alarm", async () => {
    const key = uniqueKey("expiry");
    const first = await claims.claim(key, "body", lease);
    if (first.status !== "claimed") throw new Error("expected a claim");
    await claims.settle(key, first.token, "result", 1);
    const stub = namespace.get(namespace.idFromName(key));
    // Emptied, the object deletes its storage altogether, table included.
    const tables = () =>
      runInDurableObject(
        stub,
        (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'claims'").one().n,
      );
    for (let waited = 0; (await tables()) > 0 && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await tables()).toBe(0);
    expect(await claims.claim(key, "body", lease)).toMatchObject({ status: "claimed", takeover: false });
  });
});

describe("Idempotency-Key claims", () => {
  const options = { leaseMs: 60_000, waitMs: 0 };

  it("gives a retried request its first attempt's turn and conversation, and a reused key with another body new ones", async () => {
    const tenant = `tenant-${crypto.randomUUID()}`;
    const first = await claimIdempotencyKey(claims, tenant, "key-1", "body A", options);
    if (first.kind !== "new") throw new Error("expected a new claim");
    await claims.release(first.claim, first.token);
    const retry = await claimIdempotencyKey(claims, tenant, "key-1", "body A", options);
    if (retry.kind !== "new") throw new Error("expected a new claim");
    expect([retry.turnId, retry.conversationId]).toEqual([first.turnId, first.conversationId]);

    // After the key expired, the same key names another request: it must not continue the first one's conversation.
    await claims.release(retry.claim, retry.token);
    const reused = await claimIdempotencyKey(claims, tenant, "key-1", "body B", options);
    if (reused.kind !== "new") throw new Error("expected a new claim");
    expect(reused.turnId).not.toBe(first.turnId);
    expect(reused.conversationId).not.toBe(first.conversationId);
  });

  it("keeps keys apart per tenant", async () => {
    const a = await claimIdempotencyKey(claims, `a-${crypto.randomUUID()}`, "shared", "body", options);
    const b = await claimIdempotencyKey(claims, `b-${crypto.randomUUID()}`, "shared", "body", options);
    expect([a.kind, b.kind]).toEqual(["new", "new"]);
  });
});
