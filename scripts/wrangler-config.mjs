// wrangler.jsonc, read by Wrangler's own parser, and the rules every deployable environment keeps.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { experimental_readRawConfig } from "wrangler";
import { MIGRATIONS_DIR } from "./migrations.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export function readConfig(path = join(ROOT, "wrangler.jsonc")) {
  return experimental_readRawConfig({ config: path }).rawConfig;
}

/** The configuration contract, from crates/mkit/config/contract.json (the one list; the kit's build.rs reads it too). */
export function contractVars() {
  const entries = JSON.parse(readFileSync(join(ROOT, "crates/mkit/config/contract.json"), "utf8"));
  // "required_when": "paid_tools" counts as required here: the kit ships a paid tool, and a
  // script cannot see the registry (the worker decides at run time).
  return entries.map(({ name, required, required_when, kind, format }) => ({ name, required: required || required_when === "paid_tools", kind, format }));
}

/** The contract variables that are Worker secrets (`wrangler secret put`), never vars. */
export const SECRET_NAMES = new Set(contractVars().filter((v) => v.kind === "secret").map((v) => v.name));

/** The pinned Wrangler's config schema still has the setting the invocation-log rule relies on. */
export function schemaKnowsInvocationLogs() {
  const schema = JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/config-schema.json"), "utf8"));
  return schema.definitions?.Observability?.properties?.logs?.properties?.invocation_logs?.type === "boolean";
}

/** Problems that would make an environment deploy broken; [] when there are none. */
export function validateConfig(config) {
  const problems = [];
  const known = new Map(contractVars().map((v) => [v.name, v]));
  const envs = Object.entries(config.env ?? {});
  if (envs.length === 0) problems.push("no environments under env");
  const names = new Set();
  /** rate-limit namespace id → where it is bound: one counter each, never shared by two bindings. */
  const namespaces = new Map();
  let reference;
  for (const [env, c] of envs) {
    const where = `env.${env}`;
    const db = (c.d1_databases ?? []).find((d) => d.binding === "DB");
    if (!db) problems.push(`${where}: no D1 binding named DB (vars, bindings and D1 are not inherited)`);
    else {
      // The directory scripts/migrations.mjs assembles (the kit's migrations and yours) before every apply.
      if (db.migrations_dir !== MIGRATIONS_DIR) {
        problems.push(`${where}: DB.migrations_dir must be "${MIGRATIONS_DIR}" (the kit's migrations and yours, assembled by ` +
          `scripts/migrations.mjs), got ${JSON.stringify(db.migrations_dir)}`);
      }
      if (!db.database_id || !db.database_name) problems.push(`${where}: DB needs database_name and database_id`);
    }
    // Held MCP sessions and tasks (crates/mkit/src/edge/sessions.rs, task_object.rs): the bindings are not
    // inherited, the migration is.
    for (const [binding, cls] of [["MCP_SESSIONS", "McpSessions"], ["MCP_TASKS", "McpTasks"]]) {
      const bound = (c.durable_objects?.bindings ?? []).find((b) => b.name === binding);
      if (bound?.class_name !== cls) problems.push(`${where}: no Durable Object binding ${binding} -> ${cls} (bindings are not inherited)`);
      const migrations = c.migrations ?? config.migrations ?? [];
      if (!migrations.some((m) => (m.new_sqlite_classes ?? []).includes(cls))) {
        problems.push(`${where}: no migration creates ${cls} (new_sqlite_classes)`);
      }
    }
    const observability = c.observability ?? config.observability;
    if (observability?.logs?.invocation_logs !== false) {
      problems.push(`${where}: observability.logs.invocation_logs must be false (invocation logs record full URLs and query strings; SECURITY.md says those are never logged)`);
    }
    if (!c.name || c.name === config.name) problems.push(`${where}: needs its own worker name`);
    else if (names.has(c.name)) problems.push(`${where}: worker name ${c.name} is used twice`);
    names.add(c.name);
    for (const r of c.ratelimits ?? []) {
      const id = String(r.namespace_id);
      const other = namespaces.get(id);
      if (other) problems.push(`${where}: ratelimit ${r.name} has namespace_id ${id}, as ${other} does: they would share one counter (make provision gives each its own)`);
      else namespaces.set(id, `${where} ${r.name}`);
    }
    const vars = Object.keys(c.vars ?? {}).sort();
    for (const v of vars) {
      if (SECRET_NAMES.has(v)) problems.push(`${where}: ${v} is a secret; set it with wrangler secret put, never in vars`);
      else if (!known.has(v)) problems.push(`${where}: ${v} is not a configuration variable (docs/configuration.md)`);
    }
    for (const v of known.values()) {
      if (v.required && !SECRET_NAMES.has(v.name) && !vars.includes(v.name)) problems.push(`${where}: required var ${v.name} is missing`);
    }
    if (reference && reference.vars.join() !== vars.join()) {
      problems.push(`${where}: vars ${JSON.stringify(vars)} differ from env.${reference.env}'s ${JSON.stringify(reference.vars)}`);
    }
    reference ??= { env, vars };
  }
  return problems;
}
