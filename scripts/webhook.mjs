// `npm run webhook -- <hook>`: sends one signed test event to a local orchestrator (`npm start`),
// waits for the queued turn, and prints the answer the hook stored. The payload is made from the
// hook's own templates (every {{field}} it reads gets an example value) unless --payload gives one;
// it is signed with the hook's secret from the environment or .dev.vars, or with the local secret
// `npm start` made up when none is set.
//
//   npm run webhook -- <hook> [--payload event.json] [--url http://127.0.0.1:8787] [--key <api key>] [--no-wait]

import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { LOCAL_DEV_KEY, localHookSecret, localSettings } from "./lib/local-dev.mjs";
import { loadOrchestratorSource } from "./lib/orchestrator-source.mjs";

const USAGE = "Usage: npm run webhook -- <hook> [--payload event.json] [--url http://127.0.0.1:8787] [--key <api key>] [--no-wait]";
const WAIT_SECONDS = 60;

function fail(message) {
  console.error(`webhook: ${message}`);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      payload: { type: "string" },
      url: { type: "string" },
      key: { type: "string" },
      "no-wait": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
} catch (error) {
  fail(`${error instanceof Error ? error.message : error}\n${USAGE}`);
}
const { values, positionals } = parsed;
const { hooks } = await loadOrchestratorSource();
const list = () => [...hooks.values()].map((hook) => `  ${hook.name.padEnd(16)} ${hook.verification.scheme}, secret ${hook.verification.secret}`).join("\n");
if (values.help) {
  console.log(`${USAGE}\n\nHooks (src/webhooks/hooks.ts):\n${list()}`);
  process.exit(0);
}
if (positionals.length !== 1) fail(`name one hook.\n${USAGE}\n\nHooks:\n${list()}`);
const hook = hooks.get(positionals[0]);
if (!hook) fail(`no hook named "${positionals[0]}". Hooks:\n${list()}`);

const settings = localSettings();
const base = new URL(values.url ?? `http://${settings.HOST?.trim() || "127.0.0.1"}:${settings.PORT?.trim() || "8787"}`);
const secret = settings[hook.verification.secret] || localHookSecret(hook.verification.secret, hook.verification.scheme);
const apiKey = values.key ?? (settings.SWITCHBOARD_API_KEYS?.trim() ? null : LOCAL_DEV_KEY);

/** Example values by field name, so a templated message reads like a real event. */
const EXAMPLES = {
  action: "opened",
  body: "Steps to reproduce: open the app and tap Export. It crashes instead of exporting.",
  city: "Shanghai",
  currency: "EUR",
  email: "buyer@example.com",
  full_name: "example/app",
  login: "octocat",
  number: 42,
  title: "The app crashes when saving",
  total: 129.9,
  amount: 129.9,
  type: "order.created",
};

/** A payload holding a value at every path the hook's templates read. */
function examplePayload() {
  const templates = [hook.message, hook.system ?? "", typeof hook.conversation === "object" ? hook.conversation.key : ""];
  const payload = {};
  for (const [, field] of templates.join(" ").matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)) {
    const parts = field.split(".");
    let node = payload;
    parts.forEach((part, index) => {
      if (index === parts.length - 1)
        node[part] ??= EXAMPLES[part] ?? (part === "id" ? `ex_${randomUUID().slice(0, 8)}` : `example ${part.replaceAll("_", " ")}`);
      else node = node[part] ??= {};
    });
  }
  return payload;
}

let body;
if (values.payload) {
  try {
    body = JSON.stringify(JSON.parse(readFileSync(values.payload, "utf8")));
  } catch (error) {
    fail(`--payload ${values.payload} is not a readable JSON file: ${error instanceof Error ? error.message : error}`);
  }
} else {
  body = JSON.stringify(examplePayload());
}

const deliveryId = randomUUID();
const headers = { "Content-Type": "application/json" };
if (hook.verification.scheme === "github") {
  Object.assign(headers, {
    "X-GitHub-Event": "issues",
    "X-GitHub-Delivery": deliveryId,
    "X-Hub-Signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  });
} else {
  const id = `msg_${deliveryId}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  Object.assign(headers, { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` });
}

console.log(`POST ${new URL(`/v1/webhooks/${hook.name}`, base).href} (${hook.verification.scheme}, signed with ${hook.verification.secret})\n${body}\n`);
let response;
try {
  response = await fetch(new URL(`/v1/webhooks/${hook.name}`, base), { method: "POST", headers, body });
} catch (error) {
  fail(`cannot reach ${base.origin}: is \`npm start\` running? (${error instanceof Error ? (error.cause?.code ?? error.message) : error})`);
}
const answer = await response.text();
console.log(`${response.status} ${answer}`);
if (response.status !== 202) {
  if (response.status === 401)
    console.error(`\nThe signature was refused: send with the secret the server has (${hook.verification.secret} in the environment or .dev.vars of both).`);
  process.exit(1);
}
if (values["no-wait"]) process.exit(0);
if (!apiKey) {
  console.log(`\nSWITCHBOARD_API_KEYS is set: pass --key <a key of tenant ${hook.tenant}> to read the answer.`);
  process.exit(0);
}

const { id, conversation_id: conversationId } = JSON.parse(answer);
const read = (pathname) => fetch(new URL(pathname, base), { headers: { Authorization: `Bearer ${apiKey}` } });
let delivery;
for (let waited = 0; waited < WAIT_SECONDS * 4; waited++) {
  const status = await read(`/v1/webhooks/${hook.name}/deliveries/${encodeURIComponent(id)}`);
  if (status.status !== 200) fail(`GET delivery answered ${status.status}: ${await status.text()} (the key must belong to tenant ${hook.tenant})`);
  delivery = await status.json();
  if (delivery.state !== "queued" && delivery.state !== "running") break;
  await sleep(250);
}
console.log(`\ndelivery ${id}: ${delivery.state}`);
const conversation = await read(`/v1/conversations/${encodeURIComponent(conversationId)}`);
if (conversation.status !== 200) fail(`GET /v1/conversations/${conversationId} answered ${conversation.status}: ${await conversation.text()}`);
const { messages } = await conversation.json();
const last = [...messages].reverse().find((message) => message.role === "assistant" && typeof message.content === "string");
console.log(`conversation ${conversationId}, ${messages.length} messages; the answer:\n\n${last?.content ?? "(none yet)"}`);
console.log(`\nRead it all: curl ${new URL(`/v1/conversations/${conversationId}`, base).href} -H 'Authorization: Bearer ${apiKey}'`);
