// Turns bench results into the printed tables and the SVG chart (hand-written, no dependencies).

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : "—");
const pad = (text, width) => String(text).padStart(width);
const padEnd = (text, width) => String(text).padEnd(width);

export function latencyTable(results, scenarios) {
  const labelWidth = Math.max(...scenarios.map((scenario) => scenario.label.length), 8);
  const header = `${padEnd("scenario", labelWidth)}  ${pad("conc", 5)}  ${pad("median ms", 9)}  ${pad("p99 ms", 8)}  ${pad("req/s", 7)}  ${pad("errors", 6)}  ${pad("samples", 7)}  round medians ms`;
  const lines = [header, "-".repeat(header.length + 10)];
  for (const scenario of scenarios) {
    for (const row of results.filter((result) => result.scenario === scenario.key)) {
      const rounds = row.rounds.map((round) => fmt(round.medianMs)).join(" ");
      lines.push(
        `${padEnd(scenario.label, labelWidth)}  ${pad(`${row.concurrency}${row.saturated ? "*" : ""}`, 5)}  ${pad(fmt(row.medianMs), 9)}  ${pad(fmt(row.p99Ms), 8)}  ${pad(fmt(row.reqPerSec, 0), 7)}  ${pad(row.errors, 6)}  ${pad(row.samples, 7)}  ${rounds}`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * What a scenario adds over its baseline (the mock, or the realistic mock) at one concurrency: the
 * difference of the two medians within each round, summarised by median and range over the rounds.
 */
export function addedOver(results, scenario, concurrency) {
  const at = (key) => results.find((row) => row.scenario === key && row.concurrency === concurrency);
  const row = at(scenario.key);
  const base = at(scenario.baseline);
  if (!row || !base) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const values = row.rounds
    .map((round) => round.medianMs - (base.rounds.find((other) => other.round === round.round)?.medianMs ?? Number.NaN))
    .filter(Number.isFinite);
  return { median: medianOf(values), min: Math.min(...values), max: Math.max(...values) };
}

/** The issues' side-by-side view: c=1 latency and what each adds over its mock, throughput at c=16, errors at c=64. */
export function headlineTable(results, scenarios, concurrencies, saturated) {
  const at = (key, concurrency) => results.find((row) => row.scenario === key && row.concurrency === concurrency);
  const [first] = concurrencies;
  const busy = concurrencies.find((c) => c !== first && c <= 16) ?? concurrencies[1];
  const last = concurrencies.at(-1);
  const labelWidth = Math.max(...scenarios.map((scenario) => scenario.label.length), 8);
  const mark = (c) => (saturated(c) ? "*" : "");
  const header = `${padEnd("scenario", labelWidth)}  ${pad(`median c=${first}`, 12)}  ${pad("added over mock", 16)}  ${pad(`req/s c=${busy}${mark(busy)}`, 12)}  ${pad(`errors c=${last}${mark(last)}`, 14)}`;
  const lines = [header, "-".repeat(header.length)];
  for (const scenario of scenarios) {
    const row = at(scenario.key, first);
    // The per-round difference over the scenario's mock, median over rounds.
    const added = scenario.baseline ? `${fmt(addedOver(results, scenario, first).median)} ms` : "—";
    lines.push(
      `${padEnd(scenario.label, labelWidth)}  ${pad(fmt(row?.medianMs), 12)}  ${pad(added, 16)}  ${pad(fmt(at(scenario.key, busy)?.reqPerSec, 0), 12)}  ${pad(at(scenario.key, last)?.errors ?? "—", 14)}`,
    );
  }
  if (concurrencies.some(saturated))
    lines.push(`* saturation: the closed loop keeps every core busy, so latency there is mostly queueing (see bench/README.md)`);
  return lines.join("\n");
}

function medianOf(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function targetLines(targets) {
  return targets.map((target) => `${target.measured ? (target.pass ? "PASS" : "FAIL") : "N/A "}  ${target.label}: ${target.detail}`).join("\n");
}

export function comparisonTable(comparisons, concurrencies, saturated) {
  const width = 58;
  const cell = 24;
  const lines = [`${padEnd("comparison", width)}${concurrencies.map((c) => pad(`c=${c}${saturated(c) ? "*" : ""}`, cell)).join("")}`];
  for (const comparison of comparisons) {
    const unit = comparison.unit === "x" ? "×" : "";
    const show = (value) => {
      if (!value || !Number.isFinite(value.median)) return "—";
      return `${fmt(value.median)}${unit} [${fmt(value.min)}…${fmt(value.max)}]`;
    };
    lines.push(`${padEnd(comparison.label, width)}${concurrencies.map((c) => pad(show(comparison.values[c]), cell)).join("")}`);
  }
  return lines.join("\n");
}

/** `overs`: [{ label, value }], one line each, a difference per round summarised over the rounds. */
export function streamTable(rows, overs) {
  const width = Math.max(28, ...rows.map((row) => row.label.length + 2));
  const lines = [
    `${padEnd("target", width)}${pad("first content ms", 18)}${pad("[DONE] ms", 11)}${pad("samples", 9)}${pad("errors", 8)}  round medians (first content)`,
  ];
  for (const row of rows) {
    lines.push(
      `${padEnd(row.label, width)}${pad(fmt(row.firstContentMs), 18)}${pad(fmt(row.doneMs), 11)}${pad(row.samples, 9)}${pad(row.errors, 8)}  ${row.rounds.map((round) => fmt(round.firstContentMs)).join(" ")}`,
    );
  }
  for (const { label, value } of overs) lines.push(`${label}, per round then median: ${fmt(value.median)} ms [${fmt(value.min)}…${fmt(value.max)}]`);
  return lines.join("\n");
}

export function modelRequestTable(results, scenarios) {
  const labelWidth = Math.max(...scenarios.map((scenario) => scenario.label.length), 8);
  const lines = [
    `${padEnd("scenario", labelWidth)}${pad("calls/req", 11)}${pad("body B/call", 13)}${pad("msgs/call", 11)}${pad("tools/call", 12)}${pad("tool defs B/call", 18)}${pad("≈ tokens", 10)}`,
  ];
  for (const scenario of scenarios) {
    const row = results.find((result) => result.scenario === scenario.key);
    if (!row) continue;
    lines.push(
      `${padEnd(scenario.label, labelWidth)}${pad(fmt(row.modelCallsPerRequest), 11)}${pad(fmt(row.requestBytesPerModelCall, 0), 13)}${pad(fmt(row.messagesPerModelCall, 1), 11)}${pad(fmt(row.toolsPerModelCall, 1), 12)}${pad(fmt(row.toolDefinitionBytesPerModelCall, 0), 18)}${pad(fmt(row.toolDefinitionBytesPerModelCall / 4, 0), 10)}`,
    );
  }
  return lines.join("\n");
}

/** Per kind of turn: storage, coordination and subrequests (and what the answer waited for), model calls, tool definitions, logs. */
export function costTable(costs) {
  const sum = (row, test) => {
    let total = 0;
    let onPath = 0;
    for (const [name, value] of Object.entries(row.perTurn)) {
      if (!test(name)) continue;
      total += value.total;
      onPath += value.onAnswerPath;
    }
    return total === 0 ? "0" : `${fmt(total, total % 1 ? 2 : 0)} (${fmt(onPath, onPath % 1 ? 2 : 0)})`;
  };
  const columns = [
    ["KV reads", (name) => /^kv:.*\.(get|getWithMetadata)$/.test(name)],
    ["KV lists", (name) => /^kv:.*\.list$/.test(name)],
    ["KV writes", (name) => /^kv:.*\.put$/.test(name)],
    ["KV deletes", (name) => /^kv:.*\.delete$/.test(name)],
    ["DO calls", (name) => name.startsWith("do:")],
    ["service calls", (name) => name.startsWith("service:")],
    ["fetches", (name) => name.startsWith("fetch.")],
  ];
  const width = 40;
  const cell = 14;
  const lines = [
    `${padEnd("turn", width)}${columns.map(([title]) => pad(title, cell)).join("")}${pad("subrequests", cell)}${pad("model calls", cell)}${pad("tools/call", cell)}${pad("defs B/call", cell)}${pad("log lines", cell)}${pad("turn ms", 9)}`,
  ];
  for (const row of costs.cases) {
    const subrequests = sum(row, (name) => name.startsWith("service:") || name.startsWith("fetch."));
    lines.push(
      `${padEnd(row.label, width)}${columns.map(([, test]) => pad(sum(row, test), cell)).join("")}${pad(subrequests, cell)}${pad(fmt(row.modelCallsPerTurn), cell)}${pad(fmt(row.toolsPerModelCall, 1), cell)}${pad(fmt(row.toolDefinitionBytesPerModelCall, 0), cell)}${pad(fmt(row.logLinesPerTurn, 1), cell)}${pad(fmt(row.medianTurnMs, 1), 9)}`,
    );
  }
  lines.push(
    `subrequests = service-binding calls + fetches; turn ms: median, sequential, with ${costs.storeDelayMs} ms added per KV / Durable Object call; defs B/call: tool definitions per model call, ≈ tokens = B / 4`,
  );
  return lines.join("\n");
}

export function bundleTable(bundles) {
  const lines = [`${padEnd("Worker", 30)}${pad("bytes", 10)}${pad("gzip bytes", 12)}  file`];
  for (const bundle of bundles) lines.push(`${padEnd(bundle.worker, 30)}${pad(bundle.bytes, 10)}${pad(bundle.gzipBytes, 12)}  ${bundle.file}`);
  return lines.join("\n");
}

export function startupTable(startup) {
  const lines = [`${padEnd("Worker", 30)}${pad("startup ms", 12)}${pad(`ready ms (${startup.copies} copies)`, 22)}  runs`];
  const shown = (row) => {
    if (row.worker === startup.baseline) return "—";
    if (startup.noiseMs !== null && row.perWorkerMs < startup.noiseMs) return `< ${fmt(startup.noiseMs, 0)}`;
    return fmt(row.perWorkerMs, 1);
  };
  for (const row of startup.workers) {
    lines.push(`${padEnd(row.worker, 30)}${pad(shown(row), 12)}${pad(fmt(row.medianMs, 0), 22)}  ${row.runsMs.map((ms) => fmt(ms, 0)).join(" ")}`);
  }
  if (startup.noiseMs !== null) lines.push(`"< n": below the noise of starting workerd (the empty Worker's spread, per copy)`);
  return lines.join("\n");
}

/** Background create beside a streamed turn's first content, per orchestrator (scripts/bench/background.mjs). */
export function backgroundTable(background) {
  const width = Math.max(38, ...background.rows.map((row) => row.label.length + 2));
  const range = (value) => `${fmt(value.median)} [${fmt(value.min)}…${fmt(value.max)}]`;
  const lines = [
    `${padEnd("orchestrator", width)}${pad("background create ms", 22)}${pad("first content ms", 20)}${pad("create ÷ first content", 26)}${pad("samples", 10)}${pad("errors", 8)}`,
    `${padEnd("", width)}${pad("median / p90", 22)}${pad("median / p90", 20)}`,
  ];
  for (const row of background.rows) {
    const errors = row.firstContent.errors + row.backgroundCreate.runsNotCompleted;
    lines.push(
      `${padEnd(row.label, width)}${pad(`${fmt(row.backgroundCreate.medianMs)} / ${fmt(row.backgroundCreate.p90Ms)}`, 22)}${pad(`${fmt(row.firstContent.medianMs)} / ${fmt(row.firstContent.p90Ms)}`, 20)}${pad(range(row.ratio), 26)}${pad(`${row.backgroundCreate.samples}+${row.firstContent.samples}`, 10)}${pad(errors, 8)}`,
    );
  }
  lines.push(
    "background create: POST /v1/responses with background: true, request sent → its queued JSON answer received (the run goes on in the home);",
    "first content: a streamed, non-background chat turn to the same orchestrator, request sent → first SSE delta with content (streaming section's",
    `figure from its own rounds: ${background.rows.map((row) => `${row.key} ${fmt(row.streamingSectionFirstContentMs)} ms`).join(", ")}); errors: streams that failed + runs not completed`,
  );
  return lines.join("\n");
}

/** µs per checkpoint write beside the floor, per size (scripts/bench/checkpoint.mjs). */
export function checkpointTable(checkpoints) {
  const width = Math.max(40, ...checkpoints.cases.map((row) => row.label.length + 2));
  const us = (value) => `${fmt(value.meanUs, 1)} ${fmt(value.p50Us, 1)} ${fmt(value.p90Us, 1)}`;
  const lines = [
    `${padEnd("checkpoint", width)}${pad("JSON B", 8)}${pad("writeCheckpoint µs/write", 27)}${pad("floor µs/write", 20)}${pad("÷ floor", 22)}${pad("writes × batches", 20)}`,
    `${padEnd("", width)}${pad("", 8)}${pad("mean p50 p90", 27)}${pad("mean p50 p90", 20)}`,
  ];
  for (const row of checkpoints.cases) {
    const batches = `${row.checkpoint.writesPerBatch}/${row.floor.writesPerBatch} × ${row.checkpoint.batches}`;
    lines.push(
      `${padEnd(row.label, width)}${pad(row.bytes, 8)}${pad(us(row.checkpoint), 27)}${pad(us(row.floor), 20)}${pad(`${fmt(row.overFloor.median, 1)}× [${fmt(row.overFloor.min, 1)}…${fmt(row.overFloor.max, 1)}]`, 22)}${pad(batches, 20)}`,
    );
  }
  lines.push(
    "writeCheckpoint: what a run's step pays on its home's thread for its checkpoint (src/runs/host.ts: JSON, putParts, the runs row's UPDATE, in one",
    "transaction), commit to disk excluded; floor: one INSERT OR REPLACE of the same JSON text, the least a write of it can cost",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// SVG: one panel per concurrency for the zero-latency scenarios (each with its own linear scale, since
// c=1 and c=64 differ by orders of magnitude), a bar per scenario at its median, a whisker from the median
// up to the p99; then one panel per concurrency for the realistic model's scenarios, whose latency is
// mostly the model's 200 ms: a bar per scenario at what it adds over the realistic mock, a whisker to the
// highest round.

const COLORS = [
  "#9aa5b1",
  "#5b8def",
  "#f28e2b",
  "#e15759",
  "#ff9d9a",
  "#59a14f",
  "#8cd17d",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#d37295",
  "#bab0ac",
  "#a0cbe8",
  "#ffbe7d",
  "#86bcb6",
];
const escapeXml = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function ticks(max) {
  const count = 5;
  return Array.from({ length: count + 1 }, (_, index) => (max / count) * index);
}

const tickLabel = (value) => String(Math.round(value * 1000) / 1000);
const valueLabel = (value) => (Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2));
const colorOf = (index) => COLORS[index % COLORS.length];
const lookOf = (scenario, index) => (scenario.diagnostic ? ` fill-opacity="0.45" stroke="${colorOf(index)}" stroke-dasharray="3 2"` : "");

/** The panels: { title, axis, bars: [{ scenario, index, value, whisker, whiskerLabel, tooltip }] }. */
function panelsOf({ results, scenarios, concurrencies, saturated }) {
  const indexed = scenarios.map((scenario, index) => ({ scenario, index }));
  const at = (key, concurrency) => results.find((result) => result.scenario === key && result.concurrency === concurrency);
  const zero = indexed.filter(({ scenario }) => !scenario.realistic);
  const realistic = indexed.filter(({ scenario }) => scenario.realistic && scenario.baseline);
  const latency = concurrencies.map((concurrency) => ({
    title: `concurrency ${concurrency}${saturated(concurrency) ? " (saturation)" : ""}`,
    axis: "latency, ms (bar: median, whisker: p99, dashed: off the scale)",
    bars: zero.map(({ scenario, index }) => {
      const row = at(scenario.key, concurrency);
      return {
        scenario,
        index,
        value: row?.medianMs ?? Number.NaN,
        whisker: row?.p99Ms ?? Number.NaN,
        whiskerLabel: "p99",
        tooltip: row
          ? `${scenario.label}, c=${concurrency}: median ${row.medianMs.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, ${row.reqPerSec.toFixed(0)} req/s, ${row.errors} errors`
          : "",
      };
    }),
  }));
  const added = concurrencies
    .filter((concurrency) => realistic.some(({ scenario }) => at(scenario.key, concurrency)))
    .map((concurrency) => ({
      title: `realistic model, concurrency ${concurrency}`,
      axis: "added over r1, ms (bar: median of rounds, whisker: highest)",
      bars: realistic.map(({ scenario, index }) => {
        const value = addedOver(results, scenario, concurrency);
        const row = at(scenario.key, concurrency);
        return {
          scenario,
          index,
          value: value.median,
          whisker: value.max,
          whiskerLabel: "max",
          tooltip: row
            ? `${scenario.label}, c=${concurrency}: adds ${fmt(value.median)} ms [${fmt(value.min)}…${fmt(value.max)}] over r1; median ${row.medianMs.toFixed(2)} ms, ${row.errors} errors`
            : "",
        };
      }),
    }));
  return [...latency, ...added];
}

export function renderSvg({ results, scenarios, concurrencies, saturated = () => false, title, subtitle }) {
  const panels = panelsOf({ results, scenarios, concurrencies, saturated });
  const panelWidth = 360;
  const panelHeight = 300;
  const margin = { top: 78, left: 70, right: 20, bottom: 70 };
  const gap = 40;
  // A panel whose axis differs from the one before it gets room for its own axis label.
  const lefts = [];
  let left = margin.left;
  panels.forEach((panel, index) => {
    if (index > 0) left += panelWidth + (panel.axis === panels[index - 1].axis ? gap : margin.left);
    lefts.push(left);
  });
  const width = left + panelWidth + margin.right;
  const columns = Math.max(2, Math.floor((width - margin.left - margin.right) / 420));
  const legendHeight = 22 * Math.ceil(scenarios.length / columns) + 10;
  const height = margin.top + panelHeight + margin.bottom + legendHeight;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<text x="${width / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">${escapeXml(subtitle)}</text>`);
  panels.forEach((panel, panelIndex) => {
    const newAxis = panelIndex === 0 || panel.axis !== panels[panelIndex - 1].axis;
    drawPanel(parts, panel, { x0: lefts[panelIndex], y0: margin.top, panelWidth, panelHeight, newAxis });
  });

  const legendTop = margin.top + panelHeight + margin.bottom - 8;
  scenarios.forEach((scenario, index) => {
    const column = index % columns;
    const line = Math.floor(index / columns);
    const lx = margin.left + column * ((width - margin.left - margin.right) / columns);
    const ly = legendTop + line * 22;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colorOf(index)}"${lookOf(scenario, index)}/>`);
    parts.push(`<text x="${lx + 18}" y="${ly}" font-size="11">${escapeXml(scenario.label)}</text>`);
  });
  parts.push(`</svg>`);
  return `${parts.join("\n")}\n`;
}

function drawPanel(parts, panel, { x0, y0, panelWidth, panelHeight, newAxis }) {
  // Scaled to the bars: a whisker far above them (a shared machine's hiccups) is cut at the top and labelled.
  const max = niceMax(Math.max(...panel.bars.map((bar) => (Number.isFinite(bar.value) ? Math.abs(bar.value) * 1.6 : 0)), 0.001));
  // Bars below zero (a gateway faster than the mock within noise) are drawn at zero; their label says the value.
  const y = (value) => y0 + panelHeight - (Math.min(Math.max(value, 0), max) / max) * panelHeight;
  parts.push(`<g>`);
  parts.push(`<text x="${x0 + panelWidth / 2}" y="${y0 - 14}" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (const tick of ticks(max)) {
    const ty = y(tick);
    parts.push(`<line x1="${x0}" y1="${ty}" x2="${x0 + panelWidth}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x0 - 6}" y="${ty + 4}" text-anchor="end" fill="#333">${tickLabel(tick)}</text>`);
  }
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + panelHeight}" stroke="#333"/>`);
  parts.push(`<line x1="${x0}" y1="${y0 + panelHeight}" x2="${x0 + panelWidth}" y2="${y0 + panelHeight}" stroke="#333"/>`);
  if (newAxis) {
    const cy = y0 + panelHeight / 2;
    parts.push(`<text x="${x0 - 48}" y="${cy}" text-anchor="middle" transform="rotate(-90 ${x0 - 48} ${cy})" font-size="12">${escapeXml(panel.axis)}</text>`);
  }
  const slot = panelWidth / panel.bars.length;
  const barWidth = slot * 0.62;
  panel.bars.forEach((bar) => {
    const position = panel.bars.indexOf(bar);
    const bx = x0 + slot * position + (slot - barWidth) / 2;
    const cx = bx + barWidth / 2;
    const { scenario, index } = bar;
    parts.push(`<text x="${cx}" y="${y0 + panelHeight + 16}" text-anchor="middle" fill="#333">${escapeXml(scenario.short)}</text>`);
    if (!Number.isFinite(bar.value)) {
      parts.push(`<text x="${cx}" y="${y0 + panelHeight - 6}" text-anchor="middle" fill="#999">n/a</text>`);
      return;
    }
    const top = y(bar.value);
    parts.push(
      `<rect x="${bx}" y="${top}" width="${barWidth}" height="${y0 + panelHeight - top}" fill="${colorOf(index)}"${lookOf(scenario, index)}><title>${escapeXml(bar.tooltip)}</title></rect>`,
    );
    const cut = bar.whisker > max;
    if (Number.isFinite(bar.whisker)) {
      const wy = y(bar.whisker);
      parts.push(`<line x1="${cx}" y1="${top}" x2="${cx}" y2="${wy}" stroke="#222" stroke-width="1.2"${cut ? ' stroke-dasharray="2 2"' : ""}/>`);
      if (cut)
        parts.push(
          `<text x="${cx + 3}" y="${wy + 2}" font-size="9" fill="#555" transform="rotate(90 ${cx + 3} ${wy + 2})">${bar.whiskerLabel} ${valueLabel(bar.whisker)}</text>`,
        );
      else parts.push(`<line x1="${cx - barWidth / 4}" y1="${wy}" x2="${cx + barWidth / 4}" y2="${wy}" stroke="#222" stroke-width="1.2"/>`);
    }
    const whiskerTop = Number.isFinite(bar.whisker) ? y(bar.whisker) : top;
    const labelY = cut ? top - 4 : Math.min(top, whiskerTop) - 4;
    parts.push(
      `<text x="${cx}" y="${labelY}" text-anchor="middle" font-size="10" fill="#111"${cut ? ' stroke="#fff" stroke-width="3" paint-order="stroke"' : ""}>${valueLabel(bar.value)}</text>`,
    );
  });
  parts.push(`<text x="${x0 + panelWidth / 2}" y="${y0 + panelHeight + 36}" text-anchor="middle" font-size="12">scenario</text>`);
  parts.push(`</g>`);
}
