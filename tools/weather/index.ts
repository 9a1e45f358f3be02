// The get_current_weather tool Worker: what the model sees (name, description, parameters); the
// Open-Meteo geocoding and forecast calls are in weather.ts.

import * as z from "zod";
import { defineTool, toolWorker } from "../../kit/index.js";
import { getCurrentWeather, type WeatherEnv, weatherOrigins } from "./weather.js";

export const weatherTool = defineTool({
  name: "get_current_weather",
  description: "Get the current weather (temperature, feels-like, humidity, wind, conditions) for a place (获得天气信息).",
  parameters: z.object({
    location: z.string().describe("上海, 中国"),
    unit: z.enum(["celsius", "fahrenheit"]).optional(),
  }),
  origins: weatherOrigins,
  run: (args, env: WeatherEnv, context) => getCurrentWeather(args, env, context.fetch),
});

export default toolWorker(weatherTool);
