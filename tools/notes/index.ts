// The notes tool Worker: what the model sees (name, description, parameters); the notebook itself,
// in Workers KV (NOTES), is in notes.ts.

import * as z from "zod";
import { defineTool, toolWorker } from "../../kit/index.js";
import { forgetConversation, MAX_TEXT_LENGTH, type NotesEnv, runNotes } from "./notes.js";

export const notesTool = defineTool({
  name: "notes",
  description:
    "A notebook for this conversation: save a short note, recall saved notes (optionally filtered by a query), " +
    "or delete a note by id. Use it to remember facts, preferences or decisions for later in the conversation.",
  parameters: z.object({
    action: z
      .enum(["save", "recall", "delete"])
      .describe(
        'What to do: "save" stores `text` as a new note for this conversation; ' +
          '"recall" returns this conversation\'s notes, oldest first (optionally only those containing `query`); ' +
          '"delete" removes the note whose id is `note_id`.',
      ),
    text: z.string().min(1).max(MAX_TEXT_LENGTH).optional().describe(`The note to save (1 to ${MAX_TEXT_LENGTH} characters). Required for "save".`),
    query: z.string().optional().describe('For "recall": only return notes containing this text (case-insensitive). Omit to get all notes.'),
    note_id: z.string().optional().describe('For "delete": the id of the note, as returned by "save" or "recall".'),
  }),
  sideEffects: true,
  // Deleting loses what was saved: a person confirms it first.
  needsApproval: z.object({ action: z.literal("delete") }),
  forget: forgetConversation,
  run: (args, env: NotesEnv, context) => runNotes(args, env, context),
});

export default toolWorker(notesTool);
