// The caller's side of managed keys, as the composition root hands it out: authorize a presented
// key (one call to its object), release a turn's slot, and the admin API's create / list / read /
// update / revoke. A managed key's secret is shown once, when it is made; only its hash is kept.

import type { Env } from "../env.js";
import { sha256Hex } from "../lib/hash.js";
import { randomToken } from "../lib/ids.js";
import type { Budget } from "./budgeted-model.js";
import type { Authorization, AuthorizeRequest, KeyRecord, TenantLimits, UsageQuery, UsageReport } from "./key-home.js";
import type { KeyLimits } from "./limits.js";

/** Managed keys look like this, so a static key is never sent to an object and a managed one is recognised. */
export const MANAGED_KEY_PREFIX = "sk-sb-";
/** Exactly what create() makes: anything else is refused without reaching an object. */
export const MANAGED_KEY = /^sk-sb-[A-Za-z0-9]{40}$/;
/** Characters of the secret the admin API shows to recognise a key by. */
const SHOWN_PREFIX_CHARS = 12;

/** A tenant's object is named apart from keys' (theirs are hex hashes). */
export const tenantMeter = (tenant: string) => `tenant/${tenant}`;

export interface Keys {
  authorize(secret: string, request: AuthorizeRequest): Promise<Authorization & { hash: string }>;
  /** A tenant with configured limits: its object takes what the request counts against them. */
  authorizeTenant(tenant: TenantLimits, request: AuthorizeRequest): Promise<Authorization>;
  /** Gives back a concurrency slot to the object named `meter` (a key's hash, or a tenant's name). */
  release(meter: string, slot: string): Promise<void>;
  /** The budgets kept by the object named `meter`, as a model port keeps them. */
  budget(meter: string, tenant?: TenantLimits): Budget;
  /** Usage recorded by the object named `meter` (settled, and reserved apart). */
  usage(meter: string, query: UsageQuery): Promise<UsageReport>;
  /** The hash of a key's object, by its id (the admin API reads any key's usage). */
  hashOf(id: string): Promise<string | null>;
  create(fields: { name: string; tenant: string; limits: KeyLimits }): Promise<{ record: KeyRecord; secret: string }>;
  list(limit: number, after: string | null): Promise<{ data: KeyRecord[]; has_more: boolean }>;
  get(id: string): Promise<KeyRecord | null>;
  update(id: string, change: Record<string, number | null>): Promise<KeyRecord | null>;
  revoke(id: string): Promise<KeyRecord | null>;
}

export function createKeys(env: Env): Keys {
  const home = (hash: string) => env.KEY_HOME.get(env.KEY_HOME.idFromName(hash));
  const registry = () => env.KEY_REGISTRY.get(env.KEY_REGISTRY.idFromName("all"));
  const homeOfId = async (id: string) => {
    const entry = await registry().find(id);
    return entry ? home(entry.hash) : null;
  };
  return {
    async authorize(secret, request) {
      const hash = await sha256Hex(secret);
      return { ...(await home(hash).authorize(request)), hash };
    },
    authorizeTenant: (tenant, request) => home(tenantMeter(tenant.tenant)).authorize({ ...request, tenant }),
    release: (meter, slot) => home(meter).release(slot),
    budget: (meter, tenant) => ({
      reserve: (request) => home(meter).reserve(tenant ? { ...request, tenant } : request),
      settle: (id, settlement) => home(meter).settle(id, settlement),
      unreserve: (id) => home(meter).unreserve(id),
    }),
    usage: (meter, query) => home(meter).usage(query),
    hashOf: async (id) => (await registry().find(id))?.hash ?? null,
    async create({ name, tenant, limits }) {
      const secret = `${MANAGED_KEY_PREFIX}${randomToken(40)}`;
      const hash = await sha256Hex(secret);
      const record: KeyRecord = {
        id: `key_${randomToken(16)}`,
        object: "api_key",
        name,
        tenant,
        prefix: secret.slice(0, SHOWN_PREFIX_CHARS),
        limits,
        created_at: Date.now(),
        last_used_at: null,
        revoked_at: null,
      };
      // Listed before it works: a key that exists can always be found (and revoked); a listed id whose
      // object never got the key is left out of listings.
      await registry().add({ id: record.id, hash, created_at: record.created_at });
      if (!(await home(hash).create(record))) throw new Error("A key with this secret exists already.");
      return { record, secret };
    },
    async list(limit, after) {
      const page = await registry().list(limit, after);
      const records = await Promise.all(page.entries.map((entry) => home(entry.hash).describe()));
      return { data: records.filter((record): record is KeyRecord => record !== null), has_more: page.has_more };
    },
    async get(id) {
      return (await (await homeOfId(id))?.describe()) ?? null;
    },
    async update(id, change) {
      return (await (await homeOfId(id))?.update(change)) ?? null;
    },
    async revoke(id) {
      return (await (await homeOfId(id))?.revoke()) ?? null;
    },
  };
}
