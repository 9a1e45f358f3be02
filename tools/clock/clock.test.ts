import { afterEach, describe, expect, it, vi } from "vitest";
import { ToolError } from "../../kit/index.js";
import { type ClockArguments, getCurrentTime, parseDateTime, wallTimeToInstant } from "./clock.js";
import worker, { clockTool } from "./index.js";

const context = {
  conversation_id: null,
  tool_call_id: "call_1",
  request_id: "r",
  tenant: "t",
  idempotency_key: "k",
};

/** Monday 2026-11-23 09:00:00.750 UTC. */
const NOW = Date.UTC(2026, 10, 23, 9, 0, 0, 750);

function failure(args: ClockArguments): ToolError {
  try {
    getCurrentTime(args, NOW);
  } catch (error) {
    if (error instanceof ToolError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(args)} to fail`);
}

describe("get_current_time: now", () => {
  it("reports the current time in a zone with its offset, truncated to the second", () => {
    expect(getCurrentTime({ timezone: "Asia/Tokyo" }, NOW)).toEqual({
      timezone: "Asia/Tokyo",
      iso: "2026-11-23T18:00:00+09:00",
      utc: "2026-11-23T09:00:00Z",
      utc_offset: "+09:00",
      abbreviation: expect.any(String),
      weekday: "Monday",
      date: "2026-11-23",
      time_24h: "18:00:00",
      unix_seconds: 1795424400,
    });
  });

  it("defaults to UTC", () => {
    const result = getCurrentTime({}, NOW);
    expect(result.timezone).toBe("UTC");
    expect(result.iso).toBe("2026-11-23T09:00:00+00:00");
    expect(result.utc_offset).toBe("+00:00");
    expect(result.abbreviation).toBe("UTC");
    expect(result).not.toHaveProperty("from");
  });

  it("rolls the date and weekday over across the date line", () => {
    const result = getCurrentTime({ timezone: "Pacific/Kiritimati" }, Date.UTC(2026, 10, 23, 20, 30));
    expect(result.iso).toBe("2026-11-24T10:30:00+14:00");
    expect(result.weekday).toBe("Tuesday");
    const west = getCurrentTime({ timezone: "Pacific/Pago_Pago" }, Date.UTC(2026, 10, 23, 5, 0));
    expect(west.iso).toBe("2026-11-22T18:00:00-11:00");
    expect(west.weekday).toBe("Sunday");
  });

  it("handles half-hour and quarter-hour offsets", () => {
    expect(getCurrentTime({ timezone: "Asia/Kolkata" }, NOW).iso).toBe("2026-11-23T14:30:00+05:30");
    expect(getCurrentTime({ timezone: "Asia/Kathmandu" }, NOW).utc_offset).toBe("+05:45");
    expect(getCurrentTime({ timezone: "America/St_Johns" }, NOW).utc_offset).toBe("-03:30");
  });

  it("follows daylight saving time", () => {
    const summer = getCurrentTime({ timezone: "America/New_York" }, Date.UTC(2026, 6, 1, 12));
    const winter = getCurrentTime({ timezone: "America/New_York" }, Date.UTC(2026, 0, 1, 12));
    expect(summer.utc_offset).toBe("-04:00");
    expect(summer.abbreviation).toBe("EDT");
    expect(winter.utc_offset).toBe("-05:00");
    expect(winter.abbreviation).toBe("EST");
    expect(getCurrentTime({ timezone: "Australia/Sydney" }, Date.UTC(2026, 0, 1)).utc_offset).toBe("+11:00");
    expect(getCurrentTime({ timezone: "Australia/Sydney" }, Date.UTC(2026, 6, 1)).utc_offset).toBe("+10:00");
  });

  it("prints midnight as 00, never 24", () => {
    const result = getCurrentTime({ timezone: "Europe/Paris" }, Date.UTC(2026, 10, 22, 23, 0, 0));
    expect(result.time_24h).toBe("00:00:00");
    expect(result.date).toBe("2026-11-23");
  });

  it("accepts zone names in any case and returns the canonical spelling", () => {
    expect(getCurrentTime({ timezone: "asia/tokyo" }, NOW).timezone).toBe("Asia/Tokyo");
    expect(getCurrentTime({ timezone: "utc" }, NOW).timezone).toBe("UTC");
  });

  it("keeps a current IANA name the engine knows under an older alias", () => {
    expect(getCurrentTime({ timezone: "Asia/Kolkata" }, NOW).timezone).toBe("Asia/Kolkata");
  });
});

describe("get_current_time: invalid zones", () => {
  it("rejects an unknown zone with 400, naming it and giving an example", () => {
    const error = failure({ timezone: "Mars/Olympus_Mons" });
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_arguments");
    expect(error.code).toBe("unknown_time_zone");
    expect(error.message).toContain('Unknown time zone "Mars/Olympus_Mons" in timezone.');
    expect(error.message).toContain('"Asia/Tokyo"');
  });

  it("suggests the IANA zone when given a bare city name", () => {
    expect(failure({ timezone: "Tokyo" }).message).toContain('Did you mean "Asia/Tokyo"?');
    expect(failure({ timezone: "new york" }).message).toContain('Did you mean "America/New_York"?');
  });

  it("explains Etc/GMT names when given a bare offset", () => {
    const error = failure({ timezone: "+09:00" });
    expect(error.code).toBe("unknown_time_zone");
    expect(error.message).toContain('"Etc/GMT-9" is UTC+09:00');
  });

  it("names from_timezone when that is the bad zone", () => {
    const error = failure({ timezone: "UTC", time: "2026-11-23T09:00", from_timezone: "Nowhere/City" });
    expect(error.message).toContain('Unknown time zone "Nowhere/City" in from_timezone.');
  });
});

describe("get_current_time: converting a time", () => {
  it("converts a local wall time from one zone to another", () => {
    const result = getCurrentTime({ timezone: "Asia/Tokyo", time: "2026-11-23T09:00", from_timezone: "Europe/London" }, NOW);
    expect(result.iso).toBe("2026-11-23T18:00:00+09:00");
    expect(result.utc).toBe("2026-11-23T09:00:00Z");
    expect(result.from).toEqual({ timezone: "Europe/London", iso: "2026-11-23T09:00:00+00:00" });
  });

  it("uses daylight saving time of the source zone on that date", () => {
    const result = getCurrentTime({ timezone: "UTC", time: "2026-07-04T12:00", from_timezone: "America/Los_Angeles" }, NOW);
    expect(result.utc).toBe("2026-07-04T19:00:00Z");
    expect(result.from?.iso).toBe("2026-07-04T12:00:00-07:00");
  });

  it("converts an instant given with Z or an offset, ignoring now", () => {
    expect(getCurrentTime({ timezone: "Asia/Kolkata", time: "2026-11-23T09:00:00Z" }, NOW)).toMatchObject({
      iso: "2026-11-23T14:30:00+05:30",
      from: { timezone: "UTC", iso: "2026-11-23T09:00:00+00:00" },
    });
    expect(getCurrentTime({ timezone: "UTC", time: "2026-11-23T09:00-05:00" }, NOW)).toMatchObject({
      utc: "2026-11-23T14:00:00Z",
      from: { timezone: "-05:00", iso: "2026-11-23T09:00:00-05:00" },
    });
  });

  it("shows an offset-bearing time in from_timezone when one is also given", () => {
    const result = getCurrentTime({ timezone: "UTC", time: "2026-11-23T12:00:00+03:00", from_timezone: "Europe/Paris" }, NOW);
    expect(result.utc).toBe("2026-11-23T09:00:00Z");
    expect(result.from).toEqual({ timezone: "Europe/Paris", iso: "2026-11-23T10:00:00+01:00" });
  });

  it("accepts a space separator, seconds, fractional seconds and a date alone", () => {
    expect(getCurrentTime({ time: "2026-11-23 09:15:30.999Z" }, NOW).utc).toBe("2026-11-23T09:15:30Z");
    expect(getCurrentTime({ time: "2026-11-23", from_timezone: "Asia/Tokyo" }, NOW).utc).toBe("2026-11-22T15:00:00Z");
    expect(getCurrentTime({ time: "2026-11-23T09:00+0530" }, NOW).utc).toBe("2026-11-23T03:30:00Z");
  });

  it("requires from_timezone for a wall time without an offset", () => {
    const error = failure({ timezone: "Asia/Tokyo", time: "2026-11-23T09:00" });
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_arguments");
    expect(error.code).toBe("missing_from_timezone");
    expect(error.message).toContain("from_timezone is required");
  });

  it.each([
    ["tomorrow at 9", "not in YYYY-MM-DD"],
    ["2026-13-01T00:00", "month 13"],
    ["2026-02-29T00:00", "day 29 is out of range for 2026-02"],
    ["2026-11-23T24:00", "hour 24"],
    ["2026-11-23T09:60", "minute 60"],
    ["2026-11-23T09:00+25:00", "offset"],
  ])("rejects the malformed time %s", (time, reason) => {
    const error = failure({ time, from_timezone: "UTC" });
    expect(error.status).toBe(400);
    expect(error.code).toBe("invalid_time");
    expect(error.message).toContain(reason);
    expect(error.message).toContain("2026-11-23T09:00");
  });

  it("accepts 29 February in a leap year", () => {
    expect(parseDateTime("2028-02-29T00:00").day).toBe(29);
  });

  it("rejects years outside 1000-9999", () => {
    expect(failure({ time: "0999-06-01T00:00Z" }).message).toContain("years 1000 to 9999");
  });
});

describe("get_current_time: wall times at daylight saving transitions", () => {
  // Documented choice (Temporal's "compatible" disambiguation, same as JavaScript's Date):
  // a wall time in a spring-forward gap is moved forward by the gap; a wall time in a fall-back
  // overlap resolves to the earlier of its two instants. Both add a `note` to `from`.

  it("moves a nonexistent wall time in the spring-forward gap forward by the gap", () => {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 never happens.
    const result = getCurrentTime({ timezone: "UTC", time: "2026-03-08T02:30", from_timezone: "America/New_York" }, NOW);
    expect(result.utc).toBe("2026-03-08T07:30:00Z");
    expect(result.from?.iso).toBe("2026-03-08T03:30:00-04:00");
    expect(result.from?.note).toContain("does not exist in America/New_York");
  });

  it("resolves an ambiguous wall time in the fall-back overlap to the earlier instant", () => {
    // New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    const result = getCurrentTime({ timezone: "UTC", time: "2026-11-01T01:30", from_timezone: "America/New_York" }, NOW);
    expect(result.utc).toBe("2026-11-01T05:30:00Z");
    expect(result.from?.iso).toBe("2026-11-01T01:30:00-04:00");
    expect(result.from?.note).toContain("happens twice in America/New_York");
  });

  it("resolves wall times just outside the transitions exactly, without a note", () => {
    const before = getCurrentTime({ time: "2026-11-01T00:59:59", from_timezone: "America/New_York" }, NOW);
    const after = getCurrentTime({ time: "2026-11-01T02:00", from_timezone: "America/New_York" }, NOW);
    const spring = getCurrentTime({ time: "2026-03-08T03:00", from_timezone: "America/New_York" }, NOW);
    expect(before.utc).toBe("2026-11-01T04:59:59Z");
    expect(after.utc).toBe("2026-11-01T07:00:00Z");
    expect(spring.utc).toBe("2026-03-08T07:00:00Z");
    for (const result of [before, after, spring]) expect(result.from).not.toHaveProperty("note");
  });

  it("handles southern-hemisphere and half-hour transitions", () => {
    // Sydney falls back on 2026-04-05 at 03:00 AEDT → 02:00 AEST.
    expect(wallTimeToInstant({ year: 2026, month: 4, day: 5, hour: 2, minute: 30, second: 0 }, "Australia/Sydney")).toEqual({
      instant: Date.UTC(2026, 3, 4, 15, 30),
      kind: "overlap",
    });
    // Lord Howe moves by only 30 minutes: 02:00 +11:00 → 01:30 +10:30.
    expect(wallTimeToInstant({ year: 2026, month: 4, day: 5, hour: 1, minute: 45, second: 0 }, "Australia/Lord_Howe")).toEqual({
      instant: Date.UTC(2026, 3, 4, 14, 45),
      kind: "overlap",
    });
  });

  it("handles a whole skipped day (Samoa crossing the date line in 2011)", () => {
    const result = getCurrentTime({ timezone: "UTC", time: "2011-12-30T12:00", from_timezone: "Pacific/Apia" }, NOW);
    expect(result.utc).toBe("2011-12-30T22:00:00Z");
    expect(result.from?.iso).toBe("2011-12-31T12:00:00+14:00");
    expect(result.from?.note).toContain("does not exist");
  });
});

describe("get_current_time Worker", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers POST /invoke with the time now", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    const response = await worker.app.request("/invoke", { method: "POST", body: JSON.stringify({ arguments: { timezone: "Asia/Tokyo" }, context }) }, {});
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      result: { timezone: "Asia/Tokyo", iso: "2026-11-23T18:00:00+09:00", weekday: "Monday" },
    });
  });

  it("reads the real clock when not faked", async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = (await clockTool.invoke({}, {}, context)) as { unix_seconds: number; timezone: string };
    expect(result.timezone).toBe("UTC");
    expect(result.unix_seconds).toBeGreaterThanOrEqual(before - 1);
    expect(result.unix_seconds).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
  });

  it("answers an unknown zone with 400 invalid_arguments", async () => {
    const response = await worker.app.request(
      "/invoke",
      { method: "POST", body: JSON.stringify({ arguments: { timezone: "Atlantis/Capital" }, context }) },
      {},
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { type: "invalid_arguments", code: "unknown_time_zone" },
    });
  });

  it("serves its schema with every parameter optional", async () => {
    const response = await worker.app.request("/schema", {}, {});
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      function: { name: string; parameters: { properties: Record<string, unknown>; required?: string[] } };
      metadata: { side_effects: boolean };
    };
    expect(body.function.name).toBe("get_current_time");
    expect(Object.keys(body.function.parameters.properties).sort()).toEqual(["from_timezone", "time", "timezone"]);
    expect(body.function.parameters.required ?? []).toEqual([]);
    expect(body.metadata.side_effects).toBe(false);
  });
});
