// From a run's measurements to its comparisons (computed within each round, summarised over the rounds)
// and the PASS/FAIL targets of issues 13 and 21.

import { median } from "./load.mjs";

/** Median over rounds of a per-round value, with its range. */
export const spread = (values) => {
  const finite = values.filter(Number.isFinite);
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    rounds: values,
  };
};

/** Each comparison at each concurrency: a per-round value from that round's medians, summarised over the rounds. */
export function comparisonsOf(runs, settings) {
  const perRound = (fn) =>
    Object.fromEntries(
      settings.concurrency.map((concurrency) => {
        const values = [];
        for (let round = 1; round <= settings.rounds; round++) {
          const get = (key) => runs.find((run) => run.round === round && run.concurrency === concurrency && run.scenario === key)?.medianMs ?? Number.NaN;
          values.push(fn(get));
        }
        return [concurrency, spread(values)];
      }),
    );
  const comparison = (key, label, unit, fn) => ({ key, label, unit, values: perRound(fn) });
  return [
    comparison("passthroughAddedMs", "2 − 1  pass-through Worker over the mock (platform hop)", "ms", (m) => m("passthrough") - m("mock")),
    comparison("portkeyAddedMs", "3 − 1  Portkey over the mock", "ms", (m) => m("portkey") - m("mock")),
    comparison("switchboardAddedMs", "4 − 1  Switchboard no-tool over the mock", "ms", (m) => m("switchboard") - m("mock")),
    comparison("switchboardOverPortkeyMs", "4 − 3  Switchboard no-tool minus Portkey", "ms", (m) => m("switchboard") - m("portkey")),
    comparison("statelessAddedMs", "9 − 1  Switchboard store: false over the mock", "ms", (m) => m("switchboard-stateless") - m("mock")),
    comparison("statelessOverPortkeyMs", "9 − 3  Switchboard store: false minus Portkey", "ms", (m) => m("switchboard-stateless") - m("portkey")),
    comparison("storingMs", "4 − 9  storing a new conversation", "ms", (m) => m("switchboard") - m("switchboard-stateless")),
    comparison(
      "managedKeyMs",
      "k − 9  a managed key's metering (auth, limits, reserve, settle)",
      "ms",
      (m) => m("switchboard-managed") - m("switchboard-stateless"),
    ),
    comparison("warmAddedMs", "10 − 1  warm-conversation turn over the mock", "ms", (m) => m("switchboard-warm") - m("mock")),
    comparison("warmOverNewMs", "10 − 4  warm-conversation turn minus new conversation", "ms", (m) => m("switchboard-warm") - m("switchboard")),
    comparison("switchboardToolAddedMs", "5 − 1  Switchboard one-tool over the mock", "ms", (m) => m("switchboard-tool") - m("mock")),
    comparison("toolRoundTripMs", "7 − 6  one tool round trip (matched pair)", "ms", (m) => m("pair-tool") - m("pair-no-tool")),
    comparison("toolRoundTripLocalKvMs", "5 − 4  one tool round trip, local KV (reference)", "ms", (m) => m("switchboard-tool") - m("switchboard")),
    comparison("pairVsAiSdk", "7 ÷ 8  Switchboard one-tool ÷ AI SDK peer (matched)", "x", (m) => m("pair-tool") / m("ai-sdk")),
    comparison("localKvMs", "4 − d  Miniflare's local KV simulator's share", "ms", (m) => m("switchboard") - m("memory-kv")),
    comparison("toolDefinitionsMs", "d − 6  3 more tool definitions offered (mem KV)", "ms", (m) => m("memory-kv") - m("pair-no-tool")),
    comparison("realisticPortkeyAddedMs", "r3 − r1  Portkey over the realistic model", "ms", (m) => m("portkey-realistic") - m("mock-realistic")),
    comparison("realisticAddedMs", "r4 − r1  Switchboard (stores) over the realistic model", "ms", (m) => m("switchboard-realistic") - m("mock-realistic")),
    comparison(
      "realisticStatelessAddedMs",
      "r9 − r1  Switchboard store: false over the realistic model",
      "ms",
      (m) => m("switchboard-stateless-realistic") - m("mock-realistic"),
    ),
    comparison(
      "realisticOverPortkeyMs",
      "r4 − r3  Switchboard (stores) minus Portkey, realistic",
      "ms",
      (m) => m("switchboard-realistic") - m("portkey-realistic"),
    ),
  ];
}

/** A streamed target's first content over another's, per round, summarised over the rounds. */
export function streamOver(streaming, rounds, key, baseline) {
  const values = [];
  for (let round = 1; round <= rounds; round++) {
    const get = (target) => streaming.find((row) => row.key === target)?.rounds.find((row) => row.round === round)?.firstContentMs ?? Number.NaN;
    values.push(get(key) - get(baseline));
  }
  return spread(values);
}

/** The PASS/FAIL lines; `measured` is false when the run did not measure what a target needs (N/A). */
export function targetsOf({ comparisons, results, scenarios, streaming, streamOverMock, costs, concurrencies }) {
  const valueAt = (key, concurrency) => comparisons.find((entry) => entry.key === key).values[concurrency]?.median ?? Number.NaN;
  const ms = (value) => `${value.toFixed(2)} ms`;
  const at1 = concurrencies.includes(1);
  const row = (key, concurrency) => results.find((entry) => entry.scenario === key && entry.concurrency === concurrency);
  const switchboardKeys = scenarios.filter((scenario) => /^(switchboard|pair|memory)/.test(scenario.key)).map((scenario) => scenario.key);
  const errorsAt64 = results.filter((entry) => entry.concurrency === 64);
  const stores = costs.cases.find((entry) => entry.key === "new");
  const storedPuts = stores?.perTurn["kv:CONVERSATIONS.put"]?.total ?? 0;
  const putsWaited = stores?.perTurn["kv:CONVERSATIONS.put"]?.onAnswerPath ?? 0;
  const commits = stores?.perTurn["do:CONVERSATION_HOME.commit"];
  const warm = row("switchboard-warm", 1);
  const warmErrors = results.filter((entry) => entry.scenario === "switchboard-warm");
  const busy = (entry) => entry.statusCodes["409"] ?? 0;
  const passthroughStream =
    streaming.find((entry) => entry.key === "passthrough").firstContentMs - streaming.find((entry) => entry.key === "mock").firstContentMs;
  return [
    {
      key: "noToolVsPortkey",
      label: "Switchboard no-tool added latency ≤ Portkey's (c=1, medians of per-round differences over the mock)",
      pass: valueAt("switchboardAddedMs", 1) <= valueAt("portkeyAddedMs", 1),
      detail: `${ms(valueAt("switchboardAddedMs", 1))} vs ${ms(valueAt("portkeyAddedMs", 1))}; stores the conversation: ${storedPuts} KV put(s) per turn (${putsWaited} waited for), ${commits?.onAnswerPath ?? 0} home commit(s) waited for`,
      measured: at1,
    },
    {
      key: "statelessVsPortkey",
      label: "Switchboard store: false added latency ≤ Portkey's (c=1, 9 − 1 vs 3 − 1)",
      pass: valueAt("statelessAddedMs", 1) <= valueAt("portkeyAddedMs", 1),
      detail: `${ms(valueAt("statelessAddedMs", 1))} vs ${ms(valueAt("portkeyAddedMs", 1))} (storing a new conversation, 4 − 9: ${ms(valueAt("storingMs", 1))})`,
      measured: at1,
    },
    {
      key: "realisticVsPortkey",
      label: "realistic model: Switchboard (stores, new conversation) added ≤ Portkey's + 1 ms (c=1, r4 − r1 vs r3 − r1)",
      pass: valueAt("realisticAddedMs", 1) <= valueAt("realisticPortkeyAddedMs", 1) + 1,
      detail: `${ms(valueAt("realisticAddedMs", 1))} vs ${ms(valueAt("realisticPortkeyAddedMs", 1))} (store: false, r9 − r1: ${ms(valueAt("realisticStatelessAddedMs", 1))})`,
      measured: at1 && scenarios.some((scenario) => scenario.realistic && scenario.concurrency.includes(1)),
    },
    {
      key: "warmTurn",
      label: "warm-conversation turn ≤ 1.5 ms over the mock, no errors (c=1, zero latency, 10 − 1)",
      pass: valueAt("warmAddedMs", 1) <= 1.5 && warm?.errors === 0,
      detail: `${ms(valueAt("warmAddedMs", 1))} (new conversation, 4 − 1: ${ms(valueAt("switchboardAddedMs", 1))}); errors per concurrency ${warmErrors.map((entry) => `c=${entry.concurrency}: ${entry.errors}${busy(entry) ? ` (${busy(entry)} × 409)` : ""}`).join(", ")}`,
      measured: at1,
    },
    {
      key: "toolRoundTrip",
      label: "one tool round trip ≤ 1 ms added (c=1, matched pair 7 − 6)",
      pass: valueAt("toolRoundTripMs", 1) <= 1,
      detail: `${ms(valueAt("toolRoundTripMs", 1))} (with Miniflare's local KV, 5 − 4: ${ms(valueAt("toolRoundTripLocalKvMs", 1))})`,
      measured: at1,
    },
    {
      key: "streamFirstContent",
      label: "streaming first content ≤ 1.5 ms over the mock (c=1)",
      pass: streamOverMock.median <= 1.5,
      detail: `${ms(streamOverMock.median)} (pass-through Worker: ${ms(passthroughStream)})`,
      measured: true,
    },
    {
      key: "zeroErrorsAt64",
      label: "zero errors at c=64 (Switchboard scenarios)",
      pass: errorsAt64.filter((entry) => switchboardKeys.includes(entry.scenario)).every((entry) => entry.errors === 0),
      detail: errorsAt64.map((entry) => `${scenarios.find((scenario) => scenario.key === entry.scenario).short}: ${entry.errors}`).join(", "),
      measured: errorsAt64.length > 0,
    },
  ];
}
