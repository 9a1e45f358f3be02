import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ToolCallContext, ToolError } from "../../kit/index.js";
import worker, { weatherTool } from "./index.js";
import { describeWeatherCode, parseLocation, type WeatherEnv } from "./weather.js";

const context: ToolCallContext = {
  conversation_id: "conv_weather",
  tool_call_id: "call_1",
  request_id: "req_1",
  tenant: "default",
  idempotency_key: "",
};

// Responses shaped like Open-Meteo's real ones (captured fields, trimmed values).
const geocoding = {
  shanghaiEn: {
    results: [
      {
        id: 1796236,
        name: "Shanghai",
        latitude: 31.22222,
        longitude: 121.45806,
        elevation: 12,
        feature_code: "PPLA",
        country_code: "CN",
        admin1_id: 1796231,
        timezone: "Asia/Shanghai",
        population: 24874500,
        country_id: 1814991,
        country: "China",
        admin1: "Shanghai",
      },
    ],
    generationtime_ms: 0.8,
  },
  // A smaller namesake listed first, so only the "中国" qualifier can pick the right one.
  shanghaiZh: {
    results: [
      {
        id: 1668341,
        name: "上海",
        latitude: 24.06,
        longitude: 120.55,
        elevation: 35,
        feature_code: "PPL",
        country_code: "TW",
        admin1_id: 7280290,
        timezone: "Asia/Taipei",
        population: 0,
        country_id: 1668284,
        country: "台湾",
        admin1: "彰化县",
      },
      {
        id: 1796236,
        name: "上海",
        latitude: 31.22222,
        longitude: 121.45806,
        elevation: 12,
        feature_code: "PPLA",
        country_code: "CN",
        admin1_id: 1796231,
        timezone: "Asia/Shanghai",
        population: 24874500,
        country_id: 1814991,
        country: "中国",
        admin1: "上海",
      },
    ],
    generationtime_ms: 1.1,
  },
  paris: {
    results: [
      {
        id: 2988507,
        name: "Paris",
        latitude: 48.85341,
        longitude: 2.3488,
        elevation: 42,
        feature_code: "PPLC",
        country_code: "FR",
        admin1_id: 3012874,
        timezone: "Europe/Paris",
        population: 2138551,
        country_id: 3017382,
        country: "France",
        admin1: "Île-de-France",
      },
      {
        id: 4717560,
        name: "Paris",
        latitude: 33.66094,
        longitude: -95.55551,
        elevation: 177,
        feature_code: "PPLA2",
        country_code: "US",
        admin1_id: 4736286,
        timezone: "America/Chicago",
        population: 24782,
        country_id: 6252001,
        country: "United States",
        admin1: "Texas",
      },
    ],
    generationtime_ms: 0.9,
  },
  // Open-Meteo leaves `results` out entirely when nothing matches.
  none: { generationtime_ms: 0.5 },
};

function forecast(options: {
  latitude: number;
  longitude: number;
  timezone: string;
  fahrenheit?: boolean;
  temperature?: number;
  apparent?: number;
  code?: number;
}) {
  const degrees = options.fahrenheit ? "°F" : "°C";
  return {
    latitude: Math.round(options.latitude * 4) / 4,
    longitude: Math.round(options.longitude * 4) / 4,
    generationtime_ms: 0.05,
    utc_offset_seconds: 28800,
    timezone: options.timezone,
    timezone_abbreviation: "GMT+8",
    elevation: 12,
    current_units: {
      time: "iso8601",
      interval: "seconds",
      temperature_2m: degrees,
      relative_humidity_2m: "%",
      apparent_temperature: degrees,
      weather_code: "wmo code",
      wind_speed_10m: "km/h",
    },
    current: {
      time: "2026-11-20T14:15",
      interval: 900,
      temperature_2m: options.temperature ?? 15.3,
      relative_humidity_2m: 62,
      apparent_temperature: options.apparent ?? 13.9,
      weather_code: options.code ?? 3,
      wind_speed_10m: 11.2,
    },
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

type Handler = (url: URL) => Response | Promise<Response>;

/** Replaces fetch: geocoding and forecast requests go to the given handlers; returns the URLs seen. */
function mockOpenMeteo(handlers: { geocoding: Handler; forecast?: Handler }): URL[] {
  const seen: URL[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    seen.push(url);
    if (url.pathname.endsWith("/search")) return handlers.geocoding(url);
    if (url.pathname.endsWith("/forecast") && handlers.forecast) return handlers.forecast(url);
    throw new Error(`Unexpected fetch ${url.href}`);
  });
  return seen;
}

/** Geocoding answers with `body`; the forecast echoes the requested coordinates and unit. */
function mockPlaces(body: unknown, timezone = "Asia/Shanghai"): URL[] {
  return mockOpenMeteo({
    geocoding: () => json(body),
    forecast: (url) =>
      json(
        forecast({
          latitude: Number(url.searchParams.get("latitude")),
          longitude: Number(url.searchParams.get("longitude")),
          timezone,
          fahrenheit: url.searchParams.get("temperature_unit") === "fahrenheit",
        }),
      ),
  });
}

async function invoke(args: unknown, env: WeatherEnv = {}): Promise<Response> {
  return worker.app.request(
    "/invoke",
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ arguments: args, context }) },
    env,
  );
}

beforeEach(() => {
  vi.restoreAllMocks();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("get_current_weather schema", () => {
  it("exposes exactly the location/unit JSON Schema the model is given", () => {
    expect(weatherTool.definition.function.name).toBe("get_current_weather");
    expect(weatherTool.definition.function.description).toContain("获得天气信息");
    expect(weatherTool.definition.function.parameters).toEqual({
      type: "object",
      properties: {
        location: { type: "string", description: "上海, 中国" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["location"],
    });
    expect(weatherTool.definition.metadata.side_effects).toBe(false);
  });

  it("serves the definition with a content version on GET /schema", async () => {
    const response = await worker.app.request("/schema", {}, {});
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      function: { name: string; parameters: unknown };
      metadata: { version: string; side_effects: boolean };
    };
    expect(body.function.name).toBe("get_current_weather");
    expect(body.function.parameters).toEqual(weatherTool.definition.function.parameters);
    expect(body.metadata.side_effects).toBe(false);
    expect(body.metadata.version).toMatch(/^[0-9a-f]{16}$/);
    expect(response.headers.get("ETag")).toBe(`"${body.metadata.version}"`);
  });
});

describe("get_current_weather", () => {
  it('answers "上海, 中国" by geocoding in Chinese and letting the country qualifier pick the Chinese city', async () => {
    const seen = mockPlaces(geocoding.shanghaiZh);

    const response = await invoke({ location: "上海, 中国" });

    expect(response.status).toBe(200);
    const { result } = (await response.json()) as { result: Record<string, unknown> };
    expect(result).toEqual({
      location: "上海, 上海, 中国",
      query: "上海, 中国",
      latitude: 31.22222,
      longitude: 121.45806,
      timezone: "Asia/Shanghai",
      observed_at: "2026-11-20T14:15",
      temperature: 15.3,
      apparent_temperature: 13.9,
      unit: "celsius",
      relative_humidity: 62,
      wind_speed_kmh: 11.2,
      weather_code: 3,
      conditions: "Overcast",
      source: "open-meteo.com",
    });

    const [geo, weather] = seen;
    expect(geo?.searchParams.get("name")).toBe("上海");
    expect(geo?.searchParams.get("language")).toBe("zh");
    expect(geo?.searchParams.get("count")).toBe("10");
    expect(geo?.searchParams.get("format")).toBe("json");
    expect(weather?.searchParams.get("latitude")).toBe("31.22222");
    expect(weather?.searchParams.get("longitude")).toBe("121.45806");
    expect(weather?.searchParams.get("current")).toBe("temperature_2m,relative_humidity_2m,apparent_temperature,weather_code,wind_speed_10m");
    expect(weather?.searchParams.get("temperature_unit")).toBe("celsius");
    expect(weather?.searchParams.get("wind_speed_unit")).toBe("kmh");
    expect(weather?.searchParams.get("timezone")).toBe("auto");
  });

  it("splits on full-width commas too", async () => {
    const seen = mockPlaces(geocoding.shanghaiZh);

    const result = await weatherTool.invoke({ location: "上海，中国" }, {}, context);

    expect(result).toMatchObject({ location: "上海, 上海, 中国", latitude: 31.22222 });
    expect(seen[0]?.searchParams.get("name")).toBe("上海");
  });

  it('answers "Shanghai" with the most populous match, geocoded in English', async () => {
    const seen = mockPlaces(geocoding.shanghaiEn);

    const result = await weatherTool.invoke({ location: "Shanghai" }, {}, context);

    expect(result).toMatchObject({
      location: "Shanghai, Shanghai, China",
      query: "Shanghai",
      latitude: 31.22222,
      longitude: 121.45806,
      unit: "celsius",
      conditions: "Overcast",
    });
    expect(seen[0]?.searchParams.get("name")).toBe("Shanghai");
    expect(seen[0]?.searchParams.get("language")).toBe("en");
  });

  it('picks Paris in France for "Paris, France" and Paris in Texas for "Paris, Texas"', async () => {
    mockPlaces(geocoding.paris, "Europe/Paris");

    const france = await weatherTool.invoke({ location: "Paris, France" }, {}, context);
    const texas = await weatherTool.invoke({ location: "paris, texas" }, {}, context);
    const byCode = await weatherTool.invoke({ location: "Paris, us" }, {}, context);

    expect(france).toMatchObject({ location: "Paris, Île-de-France, France", latitude: 48.85341 });
    expect(texas).toMatchObject({ location: "Paris, Texas, United States", latitude: 33.66094 });
    expect(byCode).toMatchObject({ location: "Paris, Texas, United States" });
  });

  it("falls back to the first result when no qualifier matches", async () => {
    mockPlaces(geocoding.paris, "Europe/Paris");

    const result = await weatherTool.invoke({ location: "Paris, Atlantis" }, {}, context);

    expect(result).toMatchObject({ location: "Paris, Île-de-France, France" });
  });

  it("asks Open-Meteo for fahrenheit when unit is fahrenheit", async () => {
    const seen = mockPlaces(geocoding.shanghaiEn);

    const result = await weatherTool.invoke({ location: "Shanghai", unit: "fahrenheit" }, {}, context);

    expect(seen[1]?.searchParams.get("temperature_unit")).toBe("fahrenheit");
    expect(seen[1]?.searchParams.get("wind_speed_unit")).toBe("kmh");
    expect(result).toMatchObject({ unit: "fahrenheit" });
  });

  it("reports an unknown place as 404 not_found with advice the model can act on", async () => {
    const seen = mockOpenMeteo({ geocoding: () => json(geocoding.none) });

    const response = await invoke({ location: "Xyzzyville, Nowhere" });

    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("not_found");
    expect(body.error.message).toContain("Xyzzyville");
    expect(body.error.message).toMatch(/different spelling/);
    expect(body.error.message).toMatch(/bigger city/);
    expect(seen).toHaveLength(1); // no forecast call without a place
  });

  it("rejects a call without location as 400 invalid_arguments and never calls Open-Meteo", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");

    const response = await invoke({ unit: "celsius" });

    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_arguments");
    expect(body.error.message).toContain("location");
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("rejects an unknown unit and a location with no place name as 400", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");

    expect((await invoke({ location: "Shanghai", unit: "kelvin" })).status).toBe(400);
    expect((await invoke({ location: " , China" })).status).toBe(400);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("turns an upstream 500 into 502 upstream_error", async () => {
    mockOpenMeteo({
      geocoding: () => json(geocoding.shanghaiEn),
      forecast: () => json({ error: true, reason: "Internal error" }, 500),
    });

    const response = await invoke({ location: "Shanghai" });

    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("upstream_error");
    expect(body.error.message).toContain("500");
  });

  it("turns a geocoding answer that is not JSON into 502 upstream_error", async () => {
    mockOpenMeteo({ geocoding: () => new Response("<html>bad gateway</html>", { status: 200 }) });

    const response = await invoke({ location: "Shanghai" });

    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("upstream_error");
  });

  it("turns a network failure into 502 and a timeout into 504, both upstream_error", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValueOnce(new TypeError("Network connection lost."));
    const network = await weatherTool.invoke({ location: "Shanghai" }, {}, context).catch((error: unknown) => error);
    expect(network).toBeInstanceOf(ToolError);
    expect(network).toMatchObject({ status: 502, type: "upstream_error" });

    vi.spyOn(globalThis, "fetch").mockRejectedValueOnce(new DOMException("The operation timed out.", "TimeoutError"));
    const timeout = await weatherTool.invoke({ location: "Shanghai" }, {}, context).catch((error: unknown) => error);
    expect(timeout).toMatchObject({ status: 504, type: "upstream_error" });
  });

  it("refuses a redirect to another host and never fetches it", async () => {
    const seen = mockOpenMeteo({
      geocoding: () => new Response(null, { status: 302, headers: { Location: "https://internal.example/internal-probe" } }),
    });

    const response = await invoke({ location: "Shanghai" });

    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error).toMatchObject({ type: "upstream_error", code: "origin_not_allowed" });
    expect(body.error.message).toContain("https://internal.example");
    expect(seen.map((url) => url.host)).toEqual(["geocoding-api.open-meteo.com"]);
  });

  it("follows a redirect that stays on a configured origin", async () => {
    const seen = mockOpenMeteo({
      geocoding: (url) =>
        url.searchParams.has("moved")
          ? json(geocoding.shanghaiEn)
          : new Response(null, { status: 301, headers: { Location: `${url.pathname}?moved=1&${url.searchParams}` } }),
      forecast: () => json(forecast({ latitude: 31.22, longitude: 121.46, timezone: "Asia/Shanghai", fahrenheit: false })),
    });

    const response = await invoke({ location: "Shanghai" });

    expect(response.status).toBe(200);
    expect(seen.map((url) => url.host)).toEqual(["geocoding-api.open-meteo.com", "geocoding-api.open-meteo.com", "api.open-meteo.com"]);
  });

  it("passes an abort signal so a hung upstream cannot hold the call forever", async () => {
    const spy = vi.spyOn(globalThis, "fetch").mockResolvedValue(json(geocoding.none));

    await weatherTool.invoke({ location: "Shanghai" }, {}, context).catch(() => undefined);

    expect(spy.mock.calls[0]?.[1]?.signal).toBeInstanceOf(AbortSignal);
  });

  it("uses the geocoding and forecast URLs from env when set", async () => {
    const seen = mockPlaces(geocoding.shanghaiEn);
    const env: WeatherEnv = {
      OPEN_METEO_GEOCODING_URL: "https://geo.internal.example/v1/search",
      OPEN_METEO_FORECAST_URL: "https://wx.internal.example/v1/forecast",
    };

    const response = await invoke({ location: "Shanghai" }, env);

    expect(response.status).toBe(200);
    expect(seen.map((url) => url.origin + url.pathname)).toEqual(["https://geo.internal.example/v1/search", "https://wx.internal.example/v1/forecast"]);
  });

  it("uses the public Open-Meteo URLs when env sets none", async () => {
    const seen = mockPlaces(geocoding.shanghaiEn);

    await weatherTool.invoke({ location: "Shanghai" }, {}, context);

    expect(seen.map((url) => url.origin + url.pathname)).toEqual(["https://geocoding-api.open-meteo.com/v1/search", "https://api.open-meteo.com/v1/forecast"]);
  });
});

describe("location parsing and WMO codes", () => {
  it("splits the place name from its qualifiers on ASCII, full-width and ideographic commas", () => {
    expect(parseLocation("上海, 中国")).toEqual({ name: "上海", qualifiers: ["中国"] });
    expect(parseLocation("浦东、上海，中国")).toEqual({ name: "浦东", qualifiers: ["上海", "中国"] });
    expect(parseLocation(" Shanghai ")).toEqual({ name: "Shanghai", qualifiers: [] });
  });

  it("describes every WMO code Open-Meteo returns and flags any other", () => {
    const used = [0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77, 80, 81, 82, 85, 86, 95, 96, 99];
    for (const code of used) expect(describeWeatherCode(code)).not.toMatch(/Unknown/);
    expect(describeWeatherCode(42)).toBe("Unknown (WMO code 42)");
  });
});
