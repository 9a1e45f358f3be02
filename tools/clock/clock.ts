// Time-zone arithmetic for the get_current_time tool, using only Intl.DateTimeFormat (no tz
// library: workerd ships ICU with the IANA database). Everything here is a pure function of an
// instant, so tests pass the instant instead of faking the clock.
//
// Resolution is the second: "now" and any fractional seconds in an input are truncated.

import { ToolError } from "../../kit/index.js";

export interface ClockArguments {
  timezone?: string | undefined;
  time?: string | undefined;
  from_timezone?: string | undefined;
}

export interface ClockResult {
  timezone: string;
  /** Local ISO 8601 with offset, e.g. "2026-11-23T18:00:00+09:00". */
  iso: string;
  /** The same instant in UTC, e.g. "2026-11-23T09:00:00Z". */
  utc: string;
  utc_offset: string;
  abbreviation: string;
  weekday: string;
  date: string;
  time_24h: string;
  unix_seconds: number;
  from?: { timezone: string; iso: string; note?: string };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

// Bounds keep every local date a plain four-digit year (no eras, no year 10000).
const MIN_INSTANT = Date.UTC(1000, 0, 2);
const MAX_INSTANT = Date.UTC(9999, 11, 30);

const ZONE_EXAMPLE = 'an IANA time zone name such as "Asia/Tokyo", "Europe/London", "America/New_York" or "UTC"';

/** The current time (or a converted `time`) in `timezone`; `nowMs` is the instant "now" means. */
export function getCurrentTime(args: ClockArguments, nowMs: number): ClockResult {
  const target = resolveZone(args.timezone ?? "UTC", "timezone");

  // Without `time` there is nothing to convert; from_timezone is then irrelevant and ignored.
  if (args.time === undefined || args.time.trim() === "") {
    return describeInstant(truncateToSecond(nowMs), target);
  }

  const parsed = parseDateTime(args.time.trim());
  const fromZone = args.from_timezone === undefined ? undefined : resolveZone(args.from_timezone, "from_timezone");
  let instant: number;
  let from: NonNullable<ClockResult["from"]>;

  if (parsed.offsetMs !== null) {
    // An explicit offset pins the instant; from_timezone (if any) only chooses how `from` is shown.
    instant = wallClockMs(parsed) - parsed.offsetMs;
    checkRange(instant, args.time);
    from = fromZone
      ? { timezone: fromZone, iso: describeInstant(instant, fromZone).iso }
      : { timezone: parsed.offsetText, iso: isoWithOffset(parsed, parsed.offsetMs) };
  } else {
    if (!fromZone) {
      throw new ToolError(
        `time "${args.time}" has no UTC offset, so from_timezone is required to know where that wall-clock time is ` +
          `(e.g. from_timezone: "America/New_York"). Alternatively give an offset, e.g. "${args.time}-05:00" or "${args.time}Z".`,
        { status: 400, type: "invalid_arguments", code: "missing_from_timezone" },
      );
    }
    const resolved = wallTimeToInstant(parsed, fromZone);
    instant = resolved.instant;
    checkRange(instant, args.time);
    from = { timezone: fromZone, iso: describeInstant(instant, fromZone).iso };
    if (resolved.kind !== "exact") from.note = disambiguationNote(resolved.kind, parsed, fromZone, from.iso);
  }

  return { ...describeInstant(instant, target), from };
}

// ---------------------------------------------------------------------------------------------
// Zones

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "long",
      timeZoneName: "short",
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

// Letters, digits and the punctuation IANA names use ("Etc/GMT+9", "America/Port-au-Prince").
// This also keeps out bare offsets like "+09:00", which newer engines accept but older ones reject.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]*$/;

/** Validates an IANA zone and returns its canonical spelling ("asia/tokyo" → "Asia/Tokyo"). */
export function resolveZone(input: string, parameter: string): string {
  const name = input.trim();
  if (ZONE_NAME.test(name) && name.length <= 64) {
    try {
      return spellZone(name, formatterFor(name).resolvedOptions().timeZone);
    } catch {
      // RangeError: not a zone this engine knows; fall through to the explanation.
    }
  }
  const suggestion = suggestZone(name);
  throw new ToolError(
    `Unknown time zone "${input}" in ${parameter}. Use ${ZONE_EXAMPLE}.` +
      (suggestion ? ` Did you mean "${suggestion}"?` : "") +
      (/^[+-]\d/.test(name) ? ' For a fixed offset use "Etc/GMT" names, whose sign is inverted: "Etc/GMT-9" is UTC+09:00.' : ""),
    { status: 400, type: "invalid_arguments", code: "unknown_time_zone" },
  );
}

/**
 * How to name a valid zone back to the model: the engine's spelling when it is the same name in
 * another case ("utc" → "UTC"); otherwise the caller's name, because ICU resolves current IANA names
 * to older CLDR ones ("Asia/Kolkata" → "Asia/Calcutta") that would only confuse. Case is repaired
 * from the engine's zone list when possible.
 */
function spellZone(name: string, resolved: string): string {
  if (resolved.toLowerCase() === name.toLowerCase()) return resolved;
  return listZones().find((zone) => zone.toLowerCase() === name.toLowerCase()) ?? name;
}

function listZones(): string[] {
  const supportedValuesOf = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  if (typeof supportedValuesOf !== "function") return [];
  try {
    return supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

/** "Tokyo" or "new york" → the IANA zone whose city part matches, when the engine can list zones. */
function suggestZone(name: string): string | undefined {
  if (name === "") return undefined;
  const city = name.replace(/\s+/g, "_").toLowerCase();
  return listZones().find((zone) => zone.toLowerCase().split("/").pop() === city);
}

// ---------------------------------------------------------------------------------------------
// Instants → wall clock

interface WallParts extends WallTime {
  weekday: string;
  abbreviation: string;
}

function wallPartsAt(instant: number, zone: string): WallParts {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(instant)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    // Some engines print midnight as "24" even with h23; normalise to be safe.
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: parts.weekday ?? "",
    abbreviation: parts.timeZoneName ?? "",
  };
}

/** The zone's UTC offset at `instant`, in ms (positive east of Greenwich). */
export function offsetAt(instant: number, zone: string): number {
  const whole = truncateToSecond(instant);
  return wallClockMs(wallPartsAt(whole, zone)) - whole;
}

function describeInstant(instant: number, zone: string): ClockResult {
  const wall = wallPartsAt(instant, zone);
  const offset = wallClockMs(wall) - instant;
  const date = `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}`;
  const time = `${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}`;
  const utc = new Date(instant).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    timezone: zone,
    iso: `${date}T${time}${formatOffset(offset)}`,
    utc,
    utc_offset: formatOffset(offset),
    abbreviation: wall.abbreviation,
    weekday: wall.weekday,
    date,
    time_24h: time,
    unix_seconds: Math.floor(instant / SECOND),
  };
}

// ---------------------------------------------------------------------------------------------
// Wall clock → instant

type Resolution = "exact" | "gap" | "overlap";

/**
 * Turns a wall-clock time in `zone` into an instant.
 *
 * Treat the wall time as if it were UTC (`wallMs`); the instant is `wallMs - offset` for the offset
 * in force at that instant, which we find by iterating: guess the offset at `wallMs`, compute the
 * offset at the resulting instant, adjust, and re-check until it is stable. Around a transition
 * there can be zero or two self-consistent offsets, so the offsets a couple of days either side are
 * tried as candidates too (no zone changes offset twice within a few days).
 *
 * Nonexistent and ambiguous wall times are resolved like JavaScript's Date and Temporal's default
 * ("compatible") disambiguation:
 *  - spring-forward gap (e.g. 02:30 on 2026-03-08 in America/New_York does not exist): the time is
 *    moved forward by the length of the gap, i.e. read with the offset from before the transition
 *    → 03:30 EDT (07:30Z);
 *  - fall-back overlap (e.g. 01:30 on 2026-11-01 in America/New_York happens twice): the earlier
 *    of the two instants, i.e. the offset from before the transition → 01:30 EDT (05:30Z).
 * Either way the result carries a `note` so the model can tell the user.
 */
export function wallTimeToInstant(wall: WallTime, zone: string): { instant: number; kind: Resolution } {
  const wallMs = wallClockMs(wall);
  const candidates = new Set<number>();
  let offset = offsetAt(wallMs, zone);
  for (let i = 0; i < 4; i++) {
    candidates.add(offset);
    const next = offsetAt(wallMs - offset, zone);
    if (next === offset) break;
    offset = next;
  }
  const before = offsetAt(wallMs - 2 * DAY, zone);
  const after = offsetAt(wallMs + 2 * DAY, zone);
  candidates.add(before);
  candidates.add(after);

  const valid = [...candidates]
    .filter((candidate) => offsetAt(wallMs - candidate, zone) === candidate)
    .map((candidate) => wallMs - candidate)
    .sort((a, b) => a - b);
  const [earliest] = valid;
  if (earliest !== undefined) {
    return { instant: earliest, kind: valid.length > 1 ? "overlap" : "exact" };
  }
  // No offset fits: the wall time falls in a gap. Read it with the offset before the jump, which is
  // the smaller of the two (clocks jump forward), so the time moves forward by the gap's length.
  return { instant: wallMs - Math.min(before, after), kind: "gap" };
}

function disambiguationNote(kind: Exclude<Resolution, "exact">, wall: WallTime, zone: string, iso: string): string {
  const asked = `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}`;
  return kind === "gap"
    ? `${asked} does not exist in ${zone}: the clocks jump forward over it (e.g. a daylight saving change), ` +
        `so it was moved forward by the length of the jump to ${iso}.`
    : `${asked} happens twice in ${zone}: the clocks fall back over it (e.g. the end of daylight saving time), ` +
        `so the earlier occurrence, ${iso}, was used.`;
}

// ---------------------------------------------------------------------------------------------
// Parsing "2026-11-23T09:00", "2026-11-23 09:00:00+09:00", "2026-11-23T00:00:00.5Z", "2026-11-23"

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

interface ParsedDateTime extends WallTime {
  /** Offset in ms, or null for a local wall-clock time. */
  offsetMs: number | null;
  offsetText: string;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

export function parseDateTime(input: string): ParsedDateTime {
  const match = DATE_TIME.exec(input);
  const invalid = (why: string) =>
    new ToolError(
      `Invalid time "${input}": ${why}. Use ISO 8601: a local wall-clock time like "2026-11-23T09:00" (with from_timezone), ` +
        `or an instant with an offset like "2026-11-23T09:00:00+09:00" or "2026-11-23T00:00:00Z".`,
      { status: 400, type: "invalid_arguments", code: "invalid_time" },
    );
  if (!match) throw invalid("not in YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM] form");

  const [, y, mo, d, h = "0", mi = "0", s = "0", zulu, sign, oh, om = "0"] = match;
  const wall: WallTime = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s),
  };
  if (wall.month < 1 || wall.month > 12) throw invalid(`month ${mo} is out of range 01-12`);
  const monthLength = wall.month === 2 ? (isLeap(wall.year) ? 29 : 28) : [4, 6, 9, 11].includes(wall.month) ? 30 : 31;
  if (wall.day < 1 || wall.day > monthLength) throw invalid(`day ${d} is out of range for ${y}-${mo}`);
  if (wall.hour > 23) throw invalid(`hour ${h} is out of range 00-23`);
  if (wall.minute > 59) throw invalid(`minute ${mi} is out of range 00-59`);
  if (wall.second > 59) throw invalid(`second ${s} is out of range 00-59`);

  if (zulu) return { ...wall, offsetMs: 0, offsetText: "UTC" };
  if (sign) {
    const hours = Number(oh);
    const minutes = Number(om);
    if (hours > 23 || minutes > 59) throw invalid(`offset ${sign}${oh}:${om} is out of range`);
    const offsetMs = (sign === "-" ? -1 : 1) * (hours * 60 + minutes) * MINUTE;
    return { ...wall, offsetMs, offsetText: formatOffset(offsetMs) };
  }
  return { ...wall, offsetMs: null, offsetText: "" };
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The wall-clock fields read as if they were UTC, in ms (Date.UTC maps years 0-99 to 19xx; this doesn't). */
function wallClockMs(wall: WallTime): number {
  const date = new Date(0);
  date.setUTCFullYear(wall.year, wall.month - 1, wall.day);
  date.setUTCHours(wall.hour, wall.minute, wall.second, 0);
  return date.getTime();
}

function isoWithOffset(wall: WallTime, offsetMs: number): string {
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}T` + `${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}${formatOffset(offsetMs)}`;
}

/** "+09:00", "-03:30", "+00:00"; historical local-mean-time offsets keep their seconds ("+09:18:59"). */
function formatOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? "-" : "+";
  const total = Math.round(Math.abs(offsetMs) / SECOND);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return `${sign}${pad(hours)}:${pad(minutes)}${seconds ? `:${pad(seconds)}` : ""}`;
}

function truncateToSecond(ms: number): number {
  return Math.floor(ms / SECOND) * SECOND;
}

function checkRange(instant: number, input: string): void {
  if (!(instant >= MIN_INSTANT && instant <= MAX_INSTANT)) {
    throw new ToolError(`time "${input}" is out of the supported range (years 1000 to 9999).`, {
      status: 400,
      type: "invalid_arguments",
      code: "invalid_time",
    });
  }
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}
