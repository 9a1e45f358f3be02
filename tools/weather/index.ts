// The get_current_weather tool Worker: GET /schema and POST /invoke, served by the kit.

import { toolWorker } from "../../kit/index.js";
import { weatherTool } from "./weather.js";

export { weatherTool };
export default toolWorker(weatherTool);
