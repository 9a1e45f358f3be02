// How a conversation's objects are named. A home's name holds its tenant, so one tenant's request
// can never reach another's conversation, whatever id it sends; a directory is one per tenant.
// Ids derived from a name are cached per isolate: deriving one hashes the name.

import type { Env } from "../env.js";
import type { ConversationDirectory } from "./directory.js";
import type { ConversationHome } from "./home.js";

/** A lease lasts this long unless its turn renews it: a Worker that dies frees the conversation this soon. */
export const LEASE_MS = 30_000;

const homeIds = new Map<string, DurableObjectId>();
const MAX_CACHED_IDS = 10_000;

export function homeId(env: Env, tenant: string, conversationId: string): DurableObjectId {
  const name = `${encodeURIComponent(tenant)}/${conversationId}`;
  let id = homeIds.get(name);
  if (!id) {
    if (homeIds.size >= MAX_CACHED_IDS) homeIds.clear();
    id = env.CONVERSATION_HOME.idFromName(name);
    homeIds.set(name, id);
  }
  return id;
}

export function homeOf(env: Env, tenant: string, conversationId: string): DurableObjectStub<ConversationHome> {
  return env.CONVERSATION_HOME.get(homeId(env, tenant, conversationId));
}

/** The home's object id (hex) in an id Switchboard minted for something the home keeps (`resp_…`, `task_…`), or null. */
export function homeHexOf(prefix: "resp" | "task" | "apr", id: string): string | null {
  const match = /^([a-z]+)_([0-9a-f]{64})[A-Za-z0-9]{16}$/.exec(id);
  return match && match[1] === prefix ? (match[2] as string) : null;
}

/** The home a response or call id names by its object id (hex), or null when it names none of ours. */
export function homeByHex(env: Env, hex: string): DurableObjectStub<ConversationHome> | null {
  try {
    return env.CONVERSATION_HOME.get(env.CONVERSATION_HOME.idFromString(hex));
  } catch {
    return null;
  }
}

export function directoryOf(env: Env, tenant: string): DurableObjectStub<ConversationDirectory> {
  return env.CONVERSATION_DIRECTORY.get(env.CONVERSATION_DIRECTORY.idFromName(`tenant/${encodeURIComponent(tenant)}`));
}
