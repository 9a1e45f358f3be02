// @template `npm run new-tool -- <name>` copies this folder to tools/<name>/, renaming tool-template,
// @template tool_template, toolTemplateTool, ToolTemplateEnv, ToolTemplateBindings and TOOL_TOOL_TEMPLATE
// @template after <name>, and drops these lines. It typechecks and its test runs with the others.
// The tool_template tool Worker, scaffolded by `npm run new-tool -- tool-template`: what the model sees
// (name, description, parameters); the work is done in ./tool-template.ts. The kit serves it as
// GET /schema and POST /invoke, and the orchestrator finds it through its TOOL_TOOL_TEMPLATE binding
// with no code change. Until you make it yours it is a small working example: statistics of a text.

import * as z from "zod";
import { defineTool, toolWorker } from "../../kit/index.js";
import { textStats } from "./tool-template.js";

export const toolTemplateTool = defineTool({
  name: "tool_template",
  description:
    "Count the characters, words, sentences and lines of a text and list its most frequent words. " +
    "Use it when asked how long a text is or which words it repeats.",
  parameters: z.object({
    text: z.string().min(1).max(100_000).describe("The text to analyse, in any language."),
    top: z.number().int().min(0).max(20).default(3).describe("How many of the most frequent words to list (default 3)."),
  }),
  // Declare `sideEffects: true` when a call changes state: each call then carries an idempotency key.
  run: textStats,
});

export default toolWorker(toolTemplateTool);
