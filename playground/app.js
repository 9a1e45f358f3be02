// The playground: a page of the orchestrator's own API (no build step, no dependencies). The key
// stays in this browser; everything else is what any client sees: /v1/models, /v1/tools, the chat
// stream with `include_tool_events`, and /v1/conversations with each turn's trace.

const $ = (selector) => document.querySelector(selector);
const KEY_STORE = "switchboard.key";
const state = { key: localStorage.getItem(KEY_STORE) ?? "", conversationId: null, turns: [], busy: false };

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
  headers.set("Authorization", `Bearer ${state.key}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
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

// ---- chat --------------------------------------------------------------------------------------

async function send(text) {
  state.busy = true;
  $("#send").disabled = true;
  addMessage("user", text);
  let answer = null;
  const steps = new Map();
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        model: $("#model").value || undefined,
        messages: [{ role: "user", content: text }],
        stream: true,
        stream_options: { include_usage: true, include_tool_events: true },
        ...(state.conversationId ? { conversation_id: state.conversationId } : {}),
      }),
    });
    state.conversationId = response.headers.get("X-Conversation-Id") ?? state.conversationId;
    for await (const data of sseData(response.body)) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.conversation_id) state.conversationId = chunk.conversation_id;
      const event = chunk.switchboard;
      if (event?.type === "tool_calls") {
        for (const call of event.calls) steps.set(call.id, addToolStep(call));
        answer = null; // text after a tool step is a new message
      } else if (event?.type === "tool_result") {
        steps.get(event.id)?.finish({ ok: event.ok, durationMs: event.duration_ms, content: event.content });
      }
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) {
        answer ??= addMessage("assistant", "");
        answer.textContent += content;
      }
    }
    say("");
    await openConversation(state.conversationId, { render: false });
    await loadConversations();
  } catch (error) {
    say(`The turn failed: ${error.message}`, true);
  } finally {
    state.busy = false;
    $("#send").disabled = false;
  }
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
  try {
    await Promise.all([loadCatalog(), loadConversations()]);
    say("");
  } catch (error) {
    say(`Could not load: ${error.message}`, true);
  }
}

$("#api-key").value = state.key;
$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("#api-key").value.trim();
  localStorage.setItem(KEY_STORE, state.key);
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
