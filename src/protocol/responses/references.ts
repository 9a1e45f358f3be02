// `item_reference` input items: a client that keeps its history on the server (the AI SDK with
// `store`) sends the ids of earlier output items instead of the items. The ids Switchboard gives
// messages, reasoning and function calls name the response they belong to, so each reference is
// one read of that stored response (per response, not per item), under the request's tenant.
//
// A server tool's `mcp_call` keeps the model's call id (so a client resending it pairs it with its
// result exactly); a reference to one is left out, which is what a chat client continuing without
// a conversation sends as well: the model sees a server call within its own turn only.

import { invalidRequest } from "../../errors.js";
import { isJsonObject } from "../types.js";
import type { ResponseObject } from "./types.js";

const ITEM_ID = /^(?:msg|rs|fc)_([A-Za-z0-9]{32}|[0-9a-f]{64}[A-Za-z0-9]{16})_\d+$/;

/** Ids for the output items of the response `resp_<token>`, each naming it (and through it, the home that keeps it). */
export function itemIds(token: string): (prefix: string) => string {
  let next = 0;
  return (prefix) => `${prefix}_${token}_${next++}`;
}

export async function resolveReferences(input: readonly unknown[], load: (responseId: string) => Promise<ResponseObject | null>): Promise<unknown[]> {
  const responses = new Map<string, Promise<ResponseObject | null>>();
  const resolved = await Promise.all(
    input.map(async (item, index): Promise<unknown> => {
      if (!isJsonObject(item) || item.type !== "item_reference") return item;
      const id = item.id;
      if (typeof id !== "string") throw invalidRequest(`Invalid value for 'input[${index}].id': must be a string.`, `input[${index}].id`, "invalid_value");
      const token = ITEM_ID.exec(id)?.[1];
      // Only a server call's id (the model's own call id) is left out; an id shaped like one of our
      // item ids that names nothing we gave out is the client's mistake, not something to drop.
      if (!token) {
        if (/^(?:msg|rs|fc|resp)_/.test(id)) throw invalidRequest(`Item with id '${id}' not found.`, `input[${index}].id`, "item_not_found");
        return null;
      }
      const responseId = `resp_${token}`;
      if (!responses.has(responseId)) responses.set(responseId, load(responseId));
      const found = (await responses.get(responseId))?.output.find((candidate) => candidate.id === id);
      if (!found) throw invalidRequest(`Item with id '${id}' not found.`, `input[${index}].id`, "item_not_found");
      return found;
    }),
  );
  return resolved.filter((item) => item !== null);
}
