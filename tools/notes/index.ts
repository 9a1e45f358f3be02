// The notes tool Worker: GET /schema and POST /invoke, served by the kit; notes live in KV (NOTES).

import { toolWorker } from "../../kit/index.js";
import { notesTool } from "./notes.js";

export { notesTool };
export default toolWorker(notesTool);
