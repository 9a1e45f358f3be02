import { describe, expect, it } from "vitest";
import { renderTemplate } from "../../src/webhooks/template.js";
import { signStandardWebhook, verifyGitHub, verifyStandardWebhook } from "../../src/webhooks/verify.js";

const encoder = new TextEncoder();

// The known-answer vectors of the wire notes.
const standard = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const github = {
  secret: "It's a Secret to Everybody",
  body: "Hello, World!",
  signature: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
};

function standardHeaders(signature = standard.signature, timestamp = standard.timestamp): Headers {
  return new Headers({ "webhook-id": standard.id, "webhook-timestamp": String(timestamp), "webhook-signature": signature });
}

describe("Standard Webhooks", () => {
  it("verifies the known-answer vector", async () => {
    const result = await verifyStandardWebhook(standardHeaders(), encoder.encode(standard.body), standard.secret, standard.timestamp);
    expect(result).toEqual({ ok: true, deliveryId: standard.id });
  });

  it("signs the known-answer vector", async () => {
    expect(await signStandardWebhook(standard.id, standard.timestamp, standard.body, standard.secret)).toBe(standard.signature);
  });

  it("accepts the matching signature among several (rotation)", async () => {
    const headers = standardHeaders(`v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,ignored ${standard.signature}`);
    expect((await verifyStandardWebhook(headers, encoder.encode(standard.body), standard.secret, standard.timestamp)).ok).toBe(true);
  });

  it("rejects a one-byte change of the body", async () => {
    const result = await verifyStandardWebhook(standardHeaders(), encoder.encode(standard.body.replace("4", "5")), standard.secret, standard.timestamp);
    expect(result.ok).toBe(false);
  });

  it.each([
    [-301, false],
    [-300, true],
    [300, true],
    [301, false],
  ])("treats a timestamp %i s from now as within tolerance: %s", async (offset, ok) => {
    const result = await verifyStandardWebhook(standardHeaders(), encoder.encode(standard.body), standard.secret, standard.timestamp - offset);
    expect(result.ok).toBe(ok);
  });

  it("rejects missing headers and a non-numeric timestamp", async () => {
    expect((await verifyStandardWebhook(new Headers(), encoder.encode(standard.body), standard.secret, standard.timestamp)).ok).toBe(false);
    const headers = standardHeaders();
    headers.set("webhook-timestamp", "soon");
    expect((await verifyStandardWebhook(headers, encoder.encode(standard.body), standard.secret, standard.timestamp)).ok).toBe(false);
  });
});

describe("GitHub", () => {
  const headers = (signature = github.signature) =>
    new Headers({ "x-hub-signature-256": signature, "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" });

  it("verifies the known-answer vector", async () => {
    expect(await verifyGitHub(headers(), encoder.encode(github.body), github.secret)).toEqual({ ok: true, deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958" });
  });

  it("rejects a one-byte change, a wrong secret and a malformed header", async () => {
    expect((await verifyGitHub(headers(), encoder.encode("Hello, World?"), github.secret)).ok).toBe(false);
    expect((await verifyGitHub(headers(), encoder.encode(github.body), "another secret")).ok).toBe(false);
    expect((await verifyGitHub(headers("sha1=abc"), encoder.encode(github.body), github.secret)).ok).toBe(false);
    expect((await verifyGitHub(headers("sha256=zz"), encoder.encode(github.body), github.secret)).ok).toBe(false);
  });
});

describe("message templates", () => {
  it("fills fields by path, indexes arrays, prints objects as JSON and missing fields as nothing", () => {
    const payload = { issue: { number: 7, labels: [{ name: "bug" }] }, meta: { a: 1 } };
    expect(renderTemplate("#{{issue.number}} {{ issue.labels.0.name }} {{meta}} [{{nope.deeper}}]", payload)).toBe('#7 bug {"a":1} []');
  });

  it("never evaluates anything but a path", () => {
    expect(renderTemplate("{{constructor.constructor}} {{__proto__}} {{1+1}}", {})).toBe("  {{1+1}}");
  });
});
