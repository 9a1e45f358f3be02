// The playground: a page of the orchestrator's own API (no build step, no dependencies). The key
// stays in this browser; everything else is what any client sees: /v1/models, /v1/tools, background
// Responses streams (resumed after a reload), /v1/conversations with each turn's trace, and /v1/usage
// with the x-ratelimit-* headers of the key's answers.

const $ = (selector) => document.querySelector(selector);
const KEY_STORE = "switchboard.key";
const state = { key: localStorage.getItem(KEY_STORE) ?? "", conversationId: null, turns: [], busy: false, usage: null, limits: {} };

/** An element with text or children; attributes as given. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function say(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = state.key;
  headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(path, { ...init, headers });
  // What the answer says of the key's limits, unless the page has changed keys since.
  if (key === state.key) noteLimits(response);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw Object.assign(new Error(body?.error?.message ?? `${response.status} ${response.statusText}`), {
      status: response.status,
      code: body?.error?.code,
    });
  }
  return response;
}

const pretty = (text) => {
  try {
    return JSON.stringify(typeof text === "string" ? JSON.parse(text) : text, null, 2);
  } catch {
    return String(text);
  }
};

// ---- transcript ------------------------------------------------------------------------------

function addMessage(role, text) {
  const body = el("div", { class: "text" }, text);
  const node = el(
    "article",
    { class: `message ${role}`, "aria-label": role === "user" ? "You" : "Assistant" },
    el("h3", {}, role === "user" ? "You" : "Assistant"),
    body,
  );
  $("#transcript").append(node);
  node.scrollIntoView({ block: "end" });
  return body;
}

/** A tool step: its name and arguments at once, its result and duration when it ends. */
function addToolStep(call) {
  const result = el("pre", { class: "result" }, "running…");
  const meta = el("span", { class: "meta" }, "running");
  const node = el(
    "article",
    { class: "tool-step running", "aria-label": `Tool step ${call.name}`, "data-call-id": call.id },
    el("h3", {}, el("code", {}, call.name), " ", meta),
    el("details", {}, el("summary", {}, "Arguments"), el("pre", {}, pretty(call.arguments))),
    el("details", { open: true }, el("summary", {}, "Result"), result),
  );
  $("#transcript").append(node);
  node.scrollIntoView({ block: "end" });
  return {
    finish({ ok, durationMs, content }) {
      node.classList.remove("running");
      node.classList.add(ok ? "ok" : "failed");
      meta.textContent = `${ok ? "ok" : "failed"} · ${durationMs} ms`;
      result.textContent = content === undefined || content === null ? "(no result text)" : pretty(content);
    },
  };
}

// ---- approvals ---------------------------------------------------------------------------------

/** The calls a response ended waiting for a person to decide: its `mcp_approval_request` items. */
const approvalRequests = (response) => (response.status === "completed" ? (response.output ?? []) : []).filter((item) => item.type === "mcp_approval_request");

/** Whether a response still waits: decided elsewhere (the Approvals API, another page) or expired, it does not. */
async function stillWaiting(response) {
  const requests = approvalRequests(response);
  if (requests.length === 0) return false;
  try {
    const approvals = await Promise.all(requests.map(async (request) => (await api(`/v1/approvals/${encodeURIComponent(request.id)}`)).json()));
    return approvals.every((approval) => approval.status === "pending");
  } catch {
    return false;
  }
}

/**
 * A card per call the response waits on, each approved or denied on its own; the server takes every
 * decision of a step in one request, so the turn continues once the last card is decided.
 */
function showApprovals(response) {
  const requests = approvalRequests(response);
  if (requests.length === 0) return;
  const decisions = new Map();
  const decide = (decision) => {
    decisions.set(decision.id, decision);
    const left = requests.length - decisions.size;
    if (left > 0) say(`Decide the other ${left} call${left === 1 ? "" : "s"} to continue.`);
    else continueTurn(response, [...decisions.values()]);
  };
  for (const request of requests) addApprovalCard(request, decide);
  say(`The turn waits for your decision on ${requests.length === 1 ? "a tool call" : `${requests.length} tool calls`}.`);
}

/** One waiting call: its tool and arguments (as text: they are the model's, not the page's), Approve, or Deny with an optional reason. */
function addApprovalCard(request, decide) {
  const meta = el("span", { class: "meta" }, `on ${request.server_label} · waits for your approval`);
  const reason = el("input", {
    type: "text",
    class: "reason",
    placeholder: "Reason (optional)",
    "aria-label": `Reason to deny ${request.name}`,
    maxlength: 1000,
  });
  const approve = el("button", { type: "button", class: "approve" }, "Approve");
  const deny = el("button", { type: "button", class: "deny" }, "Deny");
  const node = el(
    "article",
    { class: "approval pending", "aria-label": `Approval request ${request.name}`, "data-approval-id": request.id },
    el("h3", {}, el("code", {}, request.name), " ", meta),
    el("pre", { class: "arguments" }, pretty(request.arguments)),
    el("div", { class: "decide" }, approve, reason, deny),
  );
  const choose = (approved) => {
    // Once: a decision stands, and a second one would be refused.
    if (state.busy || approve.disabled) return;
    for (const control of [approve, deny, reason]) control.disabled = true;
    const why = approved ? "" : reason.value.trim();
    node.classList.replace("pending", approved ? "approved" : "denied");
    meta.textContent = approved ? "approved" : `denied${why ? `: ${why}` : ""}`;
    decide({ id: request.id, approve: approved, ...(why ? { reason: why } : {}) });
  };
  approve.addEventListener("click", () => choose(true));
  deny.addEventListener("click", () => choose(false));
  reason.addEventListener("keydown", (event) => {
    if (event.key === "Enter") choose(false);
  });
  $("#transcript").append(node);
  node.scrollIntoView({ block: "end" });
}

// ---- chat --------------------------------------------------------------------------------------

const RUNNING_STORE = "switchboard.running";
const UNDER_WAY = new Set(["queued", "in_progress"]);
const ENDINGS = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** The turn under way, kept so a reloaded page can find it again: { responseId, conversationId, text, lastSequence }. */
function recallRunning() {
  try {
    const running = JSON.parse(localStorage.getItem(RUNNING_STORE) ?? "null");
    return running?.responseId ? running : null;
  } catch {
    return null; // Not ours, or cut short: nothing to re-attach to.
  }
}

function rememberRunning(running) {
  if (running.responseId) localStorage.setItem(RUNNING_STORE, JSON.stringify(running));
}

function forgetRunning() {
  localStorage.removeItem(RUNNING_STORE);
}

function send(text) {
  addMessage("user", text);
  return runTurn({ responseId: null, conversationId: state.conversationId, text, lastSequence: -1 }, (running) =>
    startResponse(running, { input: text, ...(state.conversationId ? { conversation: state.conversationId } : {}) }),
  );
}

/** A person's decisions on a waiting response's calls: its turn continues, shown as any turn is (no new message of the user's). */
function continueTurn(waiting, decisions) {
  const conversationId = waiting.conversation?.id ?? state.conversationId;
  return runTurn({ responseId: null, conversationId, text: null, lastSequence: -1 }, (running) =>
    startResponse(running, {
      previous_response_id: waiting.id,
      input: decisions.map(({ id, approve, reason }) => ({ type: "mcp_approval_response", approval_request_id: id, approve, ...(reason ? { reason } : {}) })),
      // A waiting turn is kept in its conversation, and continues only as a kept one.
      store: true,
    }),
  );
}

/** Starts a response with the page's options; in the background, so the run goes on in the server if this page goes away: a reload re-attaches. */
async function startResponse(running, body) {
  const response = await api("/v1/responses", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: $("#model").value || undefined, background: true, stream: true, ...body }),
  });
  running.conversationId = response.headers.get("X-Conversation-Id") ?? running.conversationId;
  state.conversationId = running.conversationId;
  return response;
}

/** On load: a turn that was running when the page went away is shown again, steps so far first, and followed to its end. */
async function reattach() {
  const running = recallRunning();
  if (!running || state.busy) return;
  let current = null;
  try {
    current = await (await api(`/v1/responses/${encodeURIComponent(running.responseId)}`)).json();
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (!current || !UNDER_WAY.has(current.status)) {
    // It ended while no page watched (or waits for a person): what it left is in the conversation.
    const waiting = current !== null && (await stillWaiting(current));
    if (!waiting) forgetRunning();
    if (running.conversationId) await showConversation(running.conversationId);
    if (waiting) showApprovals(current);
    return;
  }
  if (running.conversationId) await showConversation(running.conversationId);
  // The running turn is not in the stored conversation until it ends; a continuation adds no message of the user's.
  if (running.text) addMessage("user", running.text);
  say("Re-attached to the running turn.");
  // From the first event: this page has rendered none of them.
  running.lastSequence = -1;
  await runTurn(running, () => api(`/v1/responses/${encodeURIComponent(running.responseId)}?stream=true`));
}

/** A stored conversation, or an empty page for one whose first turn is still running (not stored yet). */
async function showConversation(id) {
  try {
    await openConversation(id);
  } catch (error) {
    if (error.status !== 404) throw error;
    state.conversationId = id;
    state.turns = [];
    $("#transcript").replaceChildren();
    $("#trace").hidden = true;
  }
}

/** Follows a run from the stream `open` answers with to its end, rendering it, then shows what was stored. */
async function runTurn(running, open) {
  state.busy = true;
  $("#send").disabled = true;
  const view = turnView();
  try {
    let response = await open(running);
    let ended = null;
    for (let attempt = 0; ; attempt++) {
      ended = await follow(response.body, running, view);
      if (ended || !running.responseId) break;
      // The stream broke off, which need not mean the run did: ask, and pick it up after the last event seen.
      const current = await (await api(`/v1/responses/${encodeURIComponent(running.responseId)}`)).json();
      if (!UNDER_WAY.has(current.status) || attempt >= 3) {
        ended = current;
        break;
      }
      const after = running.lastSequence >= 0 ? `&starting_after=${running.lastSequence}` : "";
      response = await api(`/v1/responses/${encodeURIComponent(running.responseId)}?stream=true${after}`);
    }
    if (!ended) throw new Error("The stream ended before the turn started.");
    if (UNDER_WAY.has(ended.status)) throw new Error("The stream keeps breaking off; reload the page to follow the turn.");
    // A turn that waits for a person stays remembered, so a reload shows its requests again.
    if (approvalRequests(ended).length === 0) forgetRunning();
    await finishTurn(running.conversationId, ended, view.failure);
  } catch (error) {
    // The stored running turn stays: a reload re-attaches to it if the run goes on.
    say(`The turn failed: ${error.message}`, true);
  } finally {
    state.busy = false;
    $("#send").disabled = false;
    refreshUsage();
  }
}

/**
 * Renders a run's Responses events: a tool step per mcp_call item, the answer from text deltas. An
 * mcp_approval_request item ends its response: its card is drawn by finishTurn, over the stored turn.
 */
function turnView() {
  const steps = new Map();
  const answers = new Map();
  return {
    failure: null,
    apply(event) {
      const item = event.item;
      if (event.type === "response.output_item.added" && item.type === "mcp_call") {
        steps.set(item.id, { step: addToolStep(item), startedAt: performance.now() });
      } else if (event.type === "response.output_item.done" && item.type === "mcp_call") {
        const entry = steps.get(item.id);
        // Timed here while live; the trace's own duration replaces it once the turn is stored.
        entry?.step.finish({ ok: item.error === null, durationMs: Math.round(performance.now() - entry.startedAt), content: item.error ?? item.output });
      } else if (event.type === "response.output_text.delta") {
        let body = answers.get(event.item_id);
        if (!body) {
          body = addMessage("assistant", "");
          answers.set(event.item_id, body);
        }
        body.textContent += event.delta;
      } else if (event.type === "error") {
        this.failure = event.message;
      }
    },
  };
}

/** Reads a run's event stream, rendering and recording each event; the finished response, or null if the stream broke off first. */
async function follow(body, running, view) {
  for await (const data of sseData(body)) {
    const event = JSON.parse(data);
    if (typeof event.sequence_number === "number") {
      if (event.sequence_number <= running.lastSequence) continue;
      running.lastSequence = event.sequence_number;
    }
    if (event.type === "response.created") {
      running.responseId = event.response.id;
      running.conversationId = event.response.conversation?.id ?? running.conversationId;
      state.conversationId = running.conversationId;
    }
    view.apply(event);
    if (ENDINGS.has(event.type)) return event.response;
    rememberRunning(running);
  }
  return null;
}

async function finishTurn(conversationId, response, failure) {
  if (response.status === "completed" || response.status === "incomplete") {
    say(
      response.status === "incomplete" ? `The turn stopped early (${response.incomplete_details?.reason ?? "incomplete"}).` : "",
      response.status !== "completed",
    );
    // Stored now: shown as any stored conversation is, with each step's duration from the trace.
    await openConversation(conversationId);
    // The calls that wait for a person are in no stored message: they come from the response itself.
    showApprovals(response);
    return;
  }
  // A failed or cancelled turn is not stored: the page keeps what it showed of it.
  say(
    response.status === "cancelled" ? "The turn was cancelled." : `The turn failed: ${failure ?? response.error?.message ?? response.status}`,
    response.status !== "cancelled",
  );
  if (!conversationId) return;
  try {
    await openConversation(conversationId, { render: false });
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  await loadConversations();
}

/** The `data:` payloads of a server-sent event stream. */
async function* sseData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) yield data;
      end = buffer.indexOf("\n\n");
    }
  }
}

// ---- conversations -----------------------------------------------------------------------------

async function loadConversations() {
  const list = $("#conversations");
  const all = [];
  let cursor = null;
  // Pages come in key order; a person looks for the latest first.
  for (let page = 0; page < 10; page++) {
    const response = await api(`/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const body = await response.json();
    all.push(...body.data);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  const unique = [...new Map(all.map((entry) => [entry.id, entry])).values()].sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0));
  list.replaceChildren(
    ...unique.map((entry) =>
      el(
        "li",
        { class: entry.id === state.conversationId ? "current" : "" },
        el(
          "button",
          { type: "button", class: "open", onclick: () => openConversation(entry.id), "aria-label": `Open ${entry.title ?? entry.id}` },
          el("span", { class: "title" }, entry.title ?? entry.id),
          el(
            "small",
            {},
            `${entry.turn_count} turn${entry.turn_count === 1 ? "" : "s"} · ${entry.updated_at ? new Date(entry.updated_at * 1000).toLocaleString() : ""}`,
          ),
        ),
        el(
          "button",
          { type: "button", class: "delete", onclick: () => deleteConversation(entry.id), "aria-label": `Delete ${entry.title ?? entry.id}` },
          "Delete",
        ),
      ),
    ),
  );
  if (unique.length === 0) list.append(el("li", { class: "empty" }, "No conversations yet."));
}

/** Shows a stored conversation: its messages, each tool step with its duration from the trace, and its turns' traces. */
async function openConversation(id, { render = true } = {}) {
  const conversation = await (await api(`/v1/conversations/${encodeURIComponent(id)}`)).json();
  state.conversationId = id;
  state.turns = conversation.turns;
  if (render) {
    $("#transcript").replaceChildren();
    const toolSpans = new Map(
      conversation.turns
        .flatMap((turn) => turn.trace?.spans ?? [])
        .flatMap((span) => (span.attributes["gen_ai.tool.call.id"] ? [[span.attributes["gen_ai.tool.call.id"], span]] : [])),
    );
    const steps = new Map();
    for (const message of conversation.messages) {
      if (message.role === "user") addMessage("user", textOf(message.content));
      else if (message.role === "assistant") {
        if (message.content) addMessage("assistant", textOf(message.content));
        for (const call of message.tool_calls ?? [])
          steps.set(call.id, addToolStep({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
      } else if (message.role === "tool") {
        const span = toolSpans.get(message.tool_call_id);
        steps.get(message.tool_call_id)?.finish({
          ok: span ? span.status.code === "ok" : !/^\{"error"/.test(message.content),
          durationMs: span?.duration_ms ?? "?",
          content: message.content,
        });
      }
    }
    loadConversations().catch((error) => say(error.message, true));
  }
  showTurns();
}

const textOf = (content) => (typeof content === "string" ? content : (content ?? []).map((part) => part.text ?? "").join(" "));

async function deleteConversation(id) {
  if (!confirm("Delete this conversation, and what tools keep for it?")) return;
  try {
    await api(`/v1/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (state.conversationId === id) newChat();
    say("Conversation deleted.");
    await loadConversations();
  } catch (error) {
    say(`Could not delete: ${error.message}`, true);
  }
}

function newChat() {
  state.conversationId = null;
  state.turns = [];
  $("#transcript").replaceChildren();
  $("#trace").hidden = true;
  $("#prompt").focus();
}

// ---- trace waterfall ---------------------------------------------------------------------------

function showTurns() {
  const select = $("#turn-select");
  const traced = state.turns.filter((turn) => turn.trace);
  select.replaceChildren(...traced.map((turn, index) => el("option", { value: turn.id }, `${index + 1} of ${traced.length}`)));
  const last = traced.at(-1);
  $("#trace").hidden = !last;
  if (last) {
    select.value = last.id;
    drawWaterfall(last.trace);
  }
}

function drawWaterfall(trace) {
  const [root] = trace.spans;
  const total = Math.max(root.duration_ms, 1);
  $("#trace-id").textContent = `trace ${trace.trace_id}`;
  $("#waterfall").replaceChildren(
    ...trace.spans.map((span) => {
      const left = ((span.start_ms - root.start_ms) / total) * 100;
      const width = Math.max((span.duration_ms / total) * 100, 0.6);
      const kind = span.attributes["gen_ai.operation.name"] ?? "other";
      const details = Object.entries(span.attributes)
        .map(([key, value]) => `${key} = ${Array.isArray(value) ? value.join(", ") : value}`)
        .join("\n");
      return el(
        "li",
        { class: `span ${kind} ${span.status.code}`, title: details },
        el("span", { class: "label" }, span.name, span.status.code === "error" ? " ✗" : ""),
        el(
          "span",
          { class: "track" },
          el("span", { class: "bar", style: `left:${Math.min(left, 99.4)}%;width:${Math.min(width, 100 - Math.min(left, 99.4))}%` }),
        ),
        el("span", { class: "ms" }, `${span.duration_ms} ms`),
      );
    }),
  );
}

// ---- usage -------------------------------------------------------------------------------------

const LIMITED = { requests: "Requests left (per minute)", tokens: "Tokens left today" };

/** What an answer says of the key's limits: its x-ratelimit-* headers (a managed key's, for each limit it has), kept until the next answer says more. */
function noteLimits(response) {
  for (const kind of Object.keys(LIMITED)) {
    const remaining = response.headers.get(`x-ratelimit-remaining-${kind}`);
    if (remaining === null) continue;
    state.limits[kind] = {
      remaining: Number(remaining),
      limit: Number(response.headers.get(`x-ratelimit-limit-${kind}`)),
      reset: response.headers.get(`x-ratelimit-reset-${kind}`),
    };
  }
}

/** The key's usage over the UTC day so far, and calls still running; a static key keeps none, which is said, not shown as a failure. */
async function refreshUsage() {
  const key = state.key;
  if (!key) return;
  const start = Math.floor(Date.now() / 86_400_000) * 86_400;
  let note = "";
  try {
    const page = await (await api(`/v1/usage?start_time=${start}&end_time=${start + 86_400}&bucket_width=1d&group_by=model`)).json();
    if (key !== state.key) return;
    state.usage = totalUsage(page);
  } catch (error) {
    if (key !== state.key) return;
    const isStatic = error.code === "usage_not_kept";
    if (isStatic) state.usage = null;
    note = isStatic ? "Usage is kept only for keys made through /v1/admin/keys; this key is a static one." : `Usage could not be read: ${error.message}`;
  }
  drawUsage(note);
}

function totalUsage(page) {
  const rows = page.data.flatMap((bucket) => bucket.results);
  const sum = (field) => rows.reduce((total, row) => total + (row[field] ?? 0), 0);
  return {
    requests: sum("num_model_requests"),
    input: sum("input_tokens"),
    output: sum("output_tokens"),
    usd: sum("spend_usd"),
    inFlight: page.in_flight?.reservations ?? 0,
    budgets: page.budgets ?? [],
  };
}

/** How the panel names a budget the key has (tokens per day comes from the answers' headers too). */
const BUDGETS = { spend_usd_per_day: "Spend left today", spend_usd_per_month: "Spend left this month" };

function drawUsage(note) {
  const usage = state.usage;
  const figures = usage
    ? [
        ["Model requests", count(usage.requests)],
        ["Input tokens", count(usage.input)],
        ["Output tokens", count(usage.output)],
        ["Spend", dollars(usage.usd)],
        ["Calls in flight", count(usage.inFlight)],
      ]
    : [];
  for (const budget of usage?.budgets ?? []) {
    const name = BUDGETS[budget.limit];
    if (name) figures.push([name, `${dollars(budget.remaining)} of ${dollars(budget.value)}`]);
  }
  for (const [kind, name] of Object.entries(LIMITED)) {
    const limit = state.limits[kind];
    if (limit) figures.push([name, `${count(limit.remaining)} of ${count(limit.limit)}${limit.reset ? ` · resets in ${inWords(limit.reset)}` : ""}`]);
  }
  $("#usage-figures").replaceChildren(...figures.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  $("#usage-note").textContent = note;
  $("#usage").hidden = false;
}

const count = (value) => value.toLocaleString("en-US");

/** Dollars to the cent, or to two significant digits below a cent (a call can cost $0.00002). */
const dollars = (usd) => (usd === 0 || usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toLocaleString("en-US", { maximumSignificantDigits: 2 })}`);

/** An x-ratelimit-reset-* duration (`120ms`, `6s`, `754m3s`) as a person reads it. */
function inWords(reset) {
  const match = /^(?:(\d+)m)?(\d+)(ms|s)$/.exec(reset);
  if (!match) return reset;
  const seconds = Math.ceil(Number(match[1] ?? 0) * 60 + Number(match[2]) / (match[3] === "ms" ? 1000 : 1));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

// ---- catalog -----------------------------------------------------------------------------------

async function loadCatalog() {
  const [models, tools] = await Promise.all([api("/v1/models").then((r) => r.json()), api("/v1/tools").then((r) => r.json())]);
  $("#model").replaceChildren(...models.data.map((model) => el("option", { value: model.id }, model.id)));
  $("#tools").replaceChildren(
    ...tools.data.map((tool) =>
      el(
        "details",
        { class: "tool" },
        el(
          "summary",
          {},
          el("code", {}, tool.function.name),
          el("small", {}, ` ${tool.metadata.origin === "mcp" ? `MCP ${tool.metadata.mcp_server}` : tool.metadata.binding}`),
        ),
        el("p", {}, tool.function.description),
        el("pre", {}, JSON.stringify(tool.function.parameters, null, 2)),
      ),
    ),
  );
}

async function start() {
  if (!state.key) {
    say("Paste an API key to begin (npm start prints the local one).");
    $("#api-key").focus();
    return;
  }
  refreshUsage();
  try {
    await Promise.all([loadCatalog(), loadConversations()]);
    say("");
    await reattach();
  } catch (error) {
    say(`Could not load: ${error.message}`, true);
  }
}

$("#api-key").value = state.key;
$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("#api-key").value.trim();
  localStorage.setItem(KEY_STORE, state.key);
  // Another key, other figures: nothing of the last key's is shown for it.
  state.usage = null;
  state.limits = {};
  $("#usage").hidden = true;
  start();
});
$("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("#prompt").value.trim();
  if (!text || state.busy || !state.key) return;
  $("#prompt").value = "";
  send(text);
});
$("#prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});
$("#new-chat").addEventListener("click", newChat);
$("#turn-select").addEventListener("change", (event) => {
  const turn = state.turns.find((each) => each.id === event.target.value);
  if (turn?.trace) drawWaterfall(turn.trace);
});
start();
