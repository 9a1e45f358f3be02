// get_current_weather: real current conditions from Open-Meteo (no API key). The location is
// geocoded first ("上海, 中国" → name "上海" + qualifier "中国"), then the forecast API is asked
// for the current values at the chosen coordinates.

import * as z from "zod";
import { OriginNotAllowedError, originFetch, ToolError, type ToolFetch } from "../../kit/index.js";
import type { WeatherBindings } from "./worker-configuration.js";

/** The Open-Meteo URLs from wrangler.toml (generated types); optional so tests and mirrors may omit them. */
export type WeatherEnv = Partial<WeatherBindings>;

export const DEFAULT_GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search";
export const DEFAULT_FORECAST_URL = "https://api.open-meteo.com/v1/forecast";
const FETCH_TIMEOUT_MS = 8000;
const SOURCE = "open-meteo.com";

export type TemperatureUnit = "celsius" | "fahrenheit";

export interface CurrentWeather {
  location: string;
  query: string;
  latitude: number;
  longitude: number;
  timezone: string | null;
  observed_at: string;
  temperature: number;
  apparent_temperature: number | null;
  unit: TemperatureUnit;
  relative_humidity: number | null;
  wind_speed_kmh: number | null;
  weather_code: number | null;
  conditions: string;
  source: typeof SOURCE;
}

/** WMO weather interpretation codes, as documented by Open-Meteo (the only ones it returns). */
const WMO_CONDITIONS: Readonly<Record<number, string>> = {
  0: "Clear sky",
  1: "Mainly clear",
  2: "Partly cloudy",
  3: "Overcast",
  45: "Fog",
  48: "Depositing rime fog",
  51: "Light drizzle",
  53: "Moderate drizzle",
  55: "Dense drizzle",
  56: "Light freezing drizzle",
  57: "Dense freezing drizzle",
  61: "Slight rain",
  63: "Moderate rain",
  65: "Heavy rain",
  66: "Light freezing rain",
  67: "Heavy freezing rain",
  71: "Slight snowfall",
  73: "Moderate snowfall",
  75: "Heavy snowfall",
  77: "Snow grains",
  80: "Slight rain showers",
  81: "Moderate rain showers",
  82: "Violent rain showers",
  85: "Slight snow showers",
  86: "Heavy snow showers",
  95: "Thunderstorm",
  96: "Thunderstorm with slight hail",
  99: "Thunderstorm with heavy hail",
};

export function describeWeatherCode(code: number | null): string {
  if (code === null) return "Unknown";
  return WMO_CONDITIONS[code] ?? `Unknown (WMO code ${code})`;
}

// Upstream shapes: only the fields we read; everything else Open-Meteo sends is ignored.
const geocodingResultSchema = z.object({
  name: z.string(),
  latitude: z.number(),
  longitude: z.number(),
  timezone: z.string().optional(),
  country: z.string().optional(),
  country_code: z.string().optional(),
  admin1: z.string().optional(),
});
type Place = z.output<typeof geocodingResultSchema>;

const geocodingResponseSchema = z.object({
  // Open-Meteo omits `results` entirely when nothing matches.
  results: z.array(geocodingResultSchema).optional(),
});

const nullableNumber = z.number().nullable().optional();
const forecastResponseSchema = z.object({
  timezone: z.string().optional(),
  current: z.object({
    time: z.string(),
    temperature_2m: z.number(),
    relative_humidity_2m: nullableNumber,
    apparent_temperature: nullableNumber,
    weather_code: nullableNumber,
    wind_speed_10m: nullableNumber,
  }),
});

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/;
const LOCATION_SEPARATORS = /[,，、]/;

/** "上海, 中国" → { name: "上海", qualifiers: ["中国"] }. */
export function parseLocation(location: string): { name: string; qualifiers: string[] } {
  const [name = "", ...rest] = location.split(LOCATION_SEPARATORS).map((part) => part.trim());
  return { name, qualifiers: rest.filter((part) => part.length > 0) };
}

// Common ways of writing a country that neither its name nor its ISO code match.
const COUNTRY_ALIASES: Readonly<Record<string, string>> = {
  usa: "us",
  america: "us",
  uk: "gb",
  britain: "gb",
  "great britain": "gb",
  england: "gb",
  uae: "ae",
  prc: "cn",
};

function normalize(text: string): string {
  return text.normalize("NFKC").trim().toLowerCase();
}

/** How well one qualifier matches a place: 2 exact, 1 partial ("上海" in "上海市"), 0 not at all. */
function qualifierScore(qualifier: string, place: Place): number {
  const wanted = normalize(qualifier);
  const code = place.country_code ? normalize(place.country_code) : undefined;
  if (code && COUNTRY_ALIASES[wanted] === code) return 2;
  let best = 0;
  for (const field of [place.country, place.country_code, place.admin1]) {
    if (!field) continue;
    const value = normalize(field);
    if (value === wanted) return 2;
    // Partial matches only for qualifiers long enough not to match by accident ("us" in "australia").
    const longEnough = CJK.test(wanted) ? wanted.length >= 2 : wanted.length >= 4;
    if (longEnough && value.includes(wanted)) best = 1;
  }
  return best;
}

/** The result matching most qualifiers; ties and no qualifiers keep Open-Meteo's order (population). */
export function pickPlace(places: readonly Place[], qualifiers: readonly string[]): Place | undefined {
  let best: Place | undefined;
  let bestScore = -1;
  for (const place of places) {
    const score = qualifiers.reduce((sum, qualifier) => sum + qualifierScore(qualifier, place), 0);
    if (score > bestScore) {
      best = place;
      bestScore = score;
    }
  }
  return best;
}

function displayName(place: Place): string {
  return [place.name, place.admin1, place.country].filter((part): part is string => Boolean(part)).join(", ");
}

async function fetchJson(fetcher: ToolFetch, url: URL, service: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetcher(url, {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    // A redirect to a host other than Open-Meteo's: the kit says so, in words for the model.
    if (error instanceof OriginNotAllowedError) throw error;
    if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
      throw new ToolError(`The ${service} did not answer within ${FETCH_TIMEOUT_MS / 1000} seconds. Try again shortly.`, {
        status: 504,
        type: "upstream_error",
        code: "upstream_timeout",
      });
    }
    throw new ToolError(`The ${service} could not be reached. Try again shortly.`, {
      status: 502,
      type: "upstream_error",
      code: "upstream_unreachable",
    });
  }
  if (!response.ok) {
    const reason = await upstreamReason(response);
    throw new ToolError(`The ${service} failed with HTTP ${response.status}${reason ? ` (${reason})` : ""}. Try again shortly.`, {
      status: 502,
      type: "upstream_error",
      code: `upstream_http_${response.status}`,
    });
  }
  try {
    return await response.json();
  } catch {
    throw new ToolError(`The ${service} returned a response that is not JSON. Try again shortly.`, {
      status: 502,
      type: "upstream_error",
      code: "upstream_bad_response",
    });
  }
}

/** Open-Meteo errors look like {"error": true, "reason": "..."}; anything else is not worth quoting. */
async function upstreamReason(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "reason" in body && typeof body.reason === "string") {
      return body.reason.slice(0, 200);
    }
  } catch {
    // Not JSON: the status is all we report.
  }
  return null;
}

function badShape(service: string): ToolError {
  return new ToolError(`The ${service} returned data in an unexpected shape. Try again shortly.`, {
    status: 502,
    type: "upstream_error",
    code: "upstream_bad_response",
  });
}

/** The only URLs the tool fetches from; their origins are all it may reach. */
export function weatherOrigins(env: WeatherEnv): string[] {
  return [env.OPEN_METEO_GEOCODING_URL || DEFAULT_GEOCODING_URL, env.OPEN_METEO_FORECAST_URL || DEFAULT_FORECAST_URL];
}

export async function getCurrentWeather(
  args: { location: string; unit?: TemperatureUnit | undefined },
  env: WeatherEnv,
  fetcher: ToolFetch = originFetch(weatherOrigins(env)),
): Promise<CurrentWeather> {
  const query = args.location.trim();
  const unit: TemperatureUnit = args.unit ?? "celsius";
  const { name, qualifiers } = parseLocation(query);
  if (!name) {
    throw new ToolError('location must start with a place name, for example "上海, 中国" or "Paris, France".', {
      status: 400,
      type: "invalid_arguments",
    });
  }

  const geocodingUrl = new URL(env.OPEN_METEO_GEOCODING_URL || DEFAULT_GEOCODING_URL);
  geocodingUrl.searchParams.set("name", name);
  geocodingUrl.searchParams.set("count", "10");
  geocodingUrl.searchParams.set("language", CJK.test(name) ? "zh" : "en");
  geocodingUrl.searchParams.set("format", "json");
  const geocoding = geocodingResponseSchema.safeParse(await fetchJson(fetcher, geocodingUrl, "geocoding service (Open-Meteo)"));
  if (!geocoding.success) throw badShape("geocoding service (Open-Meteo)");

  const place = pickPlace(geocoding.data.results ?? [], qualifiers);
  if (!place) {
    throw new ToolError(
      `No place named "${name}" was found. Try a different spelling (English or the local name), ` +
        `or the nearest bigger city, optionally followed by the country, e.g. "Paris, France".`,
      { status: 404, type: "not_found", code: "location_not_found" },
    );
  }

  const forecastUrl = new URL(env.OPEN_METEO_FORECAST_URL || DEFAULT_FORECAST_URL);
  forecastUrl.searchParams.set("latitude", String(place.latitude));
  forecastUrl.searchParams.set("longitude", String(place.longitude));
  forecastUrl.searchParams.set("current", "temperature_2m,relative_humidity_2m,apparent_temperature,weather_code,wind_speed_10m");
  forecastUrl.searchParams.set("temperature_unit", unit);
  forecastUrl.searchParams.set("wind_speed_unit", "kmh");
  forecastUrl.searchParams.set("timezone", "auto");
  const forecast = forecastResponseSchema.safeParse(await fetchJson(fetcher, forecastUrl, "weather service (Open-Meteo)"));
  if (!forecast.success) throw badShape("weather service (Open-Meteo)");
  const current = forecast.data.current;
  const weatherCode = current.weather_code ?? null;

  return {
    location: displayName(place),
    query,
    latitude: place.latitude,
    longitude: place.longitude,
    timezone: forecast.data.timezone ?? place.timezone ?? null,
    observed_at: current.time,
    temperature: current.temperature_2m,
    apparent_temperature: current.apparent_temperature ?? null,
    unit,
    relative_humidity: current.relative_humidity_2m ?? null,
    wind_speed_kmh: current.wind_speed_10m ?? null,
    weather_code: weatherCode,
    conditions: describeWeatherCode(weatherCode),
    source: SOURCE,
  };
}
