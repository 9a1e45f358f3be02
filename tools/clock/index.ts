// The clock tool Worker: current time in any IANA time zone, and conversion between zones.

import * as z from "zod";
import { defineTool, toolWorker } from "../../kit/index.js";
import { getCurrentTime } from "./clock.js";

const ZONE_HINT = 'IANA time zone name, e.g. "Asia/Tokyo", "Europe/London", "America/New_York", "UTC".';

export const clockTool = defineTool({
  name: "get_current_time",
  description:
    "Get the current date and time in a time zone, or convert a date-time from one time zone to another. " +
    "Handles daylight saving time. Returns the local ISO 8601 time with its UTC offset, the UTC time, " +
    "the weekday, and the zone's abbreviation. Use it whenever the answer depends on today's date or the time of day.",
  parameters: z.object({
    timezone: z.string().max(64).optional().describe(`Time zone to report the time in. ${ZONE_HINT} Defaults to "UTC".`),
    time: z
      .string()
      .max(64)
      .optional()
      .describe(
        'A date-time to convert instead of now, in ISO 8601: either with an offset ("2026-11-23T09:00:00Z", ' +
          '"2026-11-23T09:00+01:00") or a local wall-clock time ("2026-11-23T09:00") read in from_timezone.',
      ),
    from_timezone: z.string().max(64).optional().describe(`Time zone that \`time\` is written in; required when \`time\` has no offset. ${ZONE_HINT}`),
  }),
  run: (args) => getCurrentTime(args, Date.now()),
});

export default toolWorker(clockTool);
