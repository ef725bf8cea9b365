// The Workers and D1-query half of the fake Cloudflare API (tests/e2e/fake-cloudflare.mjs serves
// it): enough for the real, pinned Wrangler to run `deploy`, `versions upload`, `versions deploy`,
// `deployments status`, `rollback`, `secret put` / `secret list` and `d1 migrations apply --remote`
// against it. It keeps the
// state Wrangler reads back: each Worker (script), its Durable Object migration tag, its versions
// and its deployments (newest first); and per D1 database the migrations applied.
//
// Each answer follows what Wrangler reads (function names in node_modules/wrangler/wrangler-dist/
// cli.js) and the Cloudflare API reference (developers.cloudflare.com/api/resources/workers/).
// Only the not-found code (10007) is Cloudflare's and matters; the codes of the other refusals
// are the fake's own, and no test reads them.

import { randomUUID } from "node:crypto";

const now = () => new Date().toISOString();

/** Cloudflare's error for a Worker that does not exist: HTTP 404, code 10007. */
// isWorkerNotFoundError (cli.js) accepts exactly the codes 10007 (WORKER_NOT_FOUND_ERR_CODE) and
// 10090; throwFetchError copies errors[0].code onto the error it tests.
const notFound = (failure, name) => [404, failure(10007, `workers.api.error.script_not_found: ${name}`)];

/** The fields of a multipart script upload (createWorkerUploadForm, cli.js): metadata and modules. */
async function uploadForm(req) {
  const form = await new Response(req.raw, { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
  const meta = form.get("metadata");
  const metadata = JSON.parse(typeof meta === "string" ? meta : await meta.text());
  return { metadata, modules: [...form.keys()].filter((k) => k !== "metadata") };
}

export function workersApi({ accountId, envelope, failure }) {
  /** name → { name, created_on, migration_tag, migrations: [applied steps], versions, deployments,
   *  secrets (name → { name, type, text }, once one is put), ... } */
  const scripts = new Map();
  /** D1 uuid → { applied: [migration file names], sql: [every statement text received] } */
  const d1 = new Map();
  const account = (m) => m[1] === accountId;

  function script(name) {
    let s = scripts.get(name);
    if (!s) {
      s = { name, created_on: now(), tag: randomUUID().replaceAll("-", ""), migration_tag: null, migrations: [],
        versions: [], deployments: [], schedules: [], subdomain: { enabled: false, previews_enabled: false }, settings: {} };
      scripts.set(name, s);
    }
    return s;
  }

  function addVersion(s, metadata, modules, triggeredBy) {
    const created = now();
    const version = {
      id: randomUUID(), number: s.versions.length + 1,
      // fetchVersion / printVersions (cli.js) read metadata.created_on, annotations and resources.
      metadata: { author_email: "dev@example.com", author_id: "user-1", created_on: created, modified_on: created,
        source: "wrangler", has_preview: false, hasPreview: false },
      annotations: { ...(metadata.annotations ?? {}), "workers/triggered_by": triggeredBy },
      resources: { bindings: metadata.bindings ?? [], script: { etag: randomUUID().replaceAll("-", ""), handlers: ["fetch", "scheduled"] },
        script_runtime: { compatibility_date: metadata.compatibility_date, compatibility_flags: metadata.compatibility_flags ?? [],
          usage_model: "standard" } },
      startup_time_ms: 1, main_module: metadata.main_module, modules,
    };
    s.versions.push(version);
    return version;
  }

  // Deployments API: the list is newest first ("the first deployment in the list is the latest
  // deployment actively serving traffic"); fetchLatestDeployment (cli.js) takes .at(0).
  function addDeployment(s, versions, message, triggeredBy) {
    const deployment = { id: randomUUID(), source: "wrangler", strategy: "percentage", author_email: "dev@example.com",
      created_on: now(), annotations: { "workers/message": message, "workers/triggered_by": triggeredBy }, versions };
    s.deployments.unshift(deployment);
    return deployment;
  }

  /** fn(script) for an existing Worker; Cloudflare's not-found error otherwise. */
  const existing = (m, fn) => {
    if (!account(m)) return [403, failure(10000, "Authentication error")];
    const s = scripts.get(m[2]);
    return s ? fn(s) : notFound(failure, m[2]);
  };

  const W = "^\\/accounts\\/([^/]+)\\/workers";
  const re = (s) => new RegExp(`${W}${s}$`);
  const routes = [
    // getMigrationsToUpload, preUploadApiChecks and verifyWorkerMatchesCITag (cli.js) read
    // default_environment.script: tag, tags, last_deployed_from ("wrangler": no dashboard-drift
    // check) and migration_tag, the last Durable Object migration applied.
    ["GET", re("\\/services\\/([^/]+)"), (m) => existing(m, (s) => envelope({
      id: s.name, created_on: s.created_on, modified_on: s.modified_on ?? s.created_on,
      default_environment: { environment: "production", created_on: s.created_on, modified_on: s.modified_on ?? s.created_on,
        script: { id: s.name, tag: s.tag, tags: [], etag: s.versions.at(-1)?.resources.script.etag, handlers: ["fetch", "scheduled"],
          created_on: s.created_on, modified_on: s.modified_on ?? s.created_on, usage_model: "standard",
          last_deployed_from: "wrangler", ...(s.migration_tag ? { migration_tag: s.migration_tag } : {}) } },
    }))],
    // List Workers (API reference, "List Workers"; the client Wrangler bundles: scripts.list):
    // one entry per Worker, its name as `id`. make provision reads it, then each Worker's settings
    // (the route below) for the rate-limit namespaces the account's other Workers bind.
    ["GET", re("\\/scripts"), (m) => (account(m) ? envelope([...scripts.values()].map((s) => ({
      id: s.name, tag: s.tag, created_on: s.created_on, modified_on: s.modified_on ?? s.created_on,
      etag: s.versions.at(-1)?.resources.script.etag, handlers: ["fetch"], usage_model: "standard",
      ...(s.migration_tag ? { migration_tag: s.migration_tag } : {}) }))) : [403, failure(10000, "Authentication error")])],
    // checkRemoteSecretsOverride and `wrangler secret list` (fetchSecrets, cli.js): the Worker's
    // secrets, names and types only (the API never returns a value); a new Worker answers
    // not-found, which checkRemoteSecretsOverride accepts.
    ["GET", re("\\/scripts\\/([^/]+)\\/secrets"), (m) => existing(m, (s) =>
      envelope([...(s.secrets ?? new Map()).values()].map(({ name, type }) => ({ name, type }))))],
    // `wrangler secret put` (secretPutCommand, cli.js): PUT …/secrets { name, text, type:
    // "secret_text" }. Cloudflare makes a new version of the Worker with the secret and deploys it
    // at 100% at once; while the latest version is not the one deployed at 100% (a gradual rollout)
    // it refuses with code 10215, which throwIfLatestVersionNotDeployed (cli.js) explains. A Worker
    // not found answers 10007, on which Wrangler creates a draft Worker (createDraftWorker: a PUT of
    // the script) and puts the secret again.
    ["PUT", re("\\/scripts\\/([^/]+)\\/secrets"), (m, req) => existing(m, (s) => {
      const { name, text, type } = JSON.parse(req.body || "{}");
      if (!name || typeof text !== "string" || type !== "secret_text") return [400, failure(10021, "a secret needs name, text and type secret_text")];
      const latest = s.versions.at(-1);
      const live = s.deployments[0]?.versions ?? [];
      if (latest && !(live.length === 1 && live[0].version_id === latest.id && live[0].percentage === 100)) {
        return [400, failure(10215, "Secret edit failed: the latest version of the Worker is not deployed")];
      }
      s.secrets ??= new Map();
      s.secrets.set(name, { name, type, text });
      const bindings = [...(latest?.resources.bindings ?? []).filter((b) => b.name !== name), { name, type }];
      const version = addVersion(s, { ...latest?.resources.script_runtime, main_module: latest?.main_module, bindings,
        annotations: { "workers/message": `secret ${name}` } }, latest?.modules ?? [], "secret");
      addDeployment(s, [{ version_id: version.id, percentage: 100 }], `secret ${name}`, "secret");
      return envelope({ name, type });
    })],
    // getWorkerSubdomain (cli.js) reads subdomain.enabled / previews_enabled of the Workers API.
    ["GET", re("\\/workers\\/([^/]+)"), (m) => existing(m, (s) => envelope({ id: s.name, name: s.name, subdomain: s.subdomain }))],
    // subdomainDeploy (cli.js): POST …/subdomain { enabled, previews_enabled }.
    ["POST", re("\\/scripts\\/([^/]+)\\/subdomain"), (m, req) => existing(m, (s) => {
      const { enabled, previews_enabled } = JSON.parse(req.body || "{}");
      s.subdomain = { enabled: Boolean(enabled), previews_enabled: Boolean(previews_enabled) };
      return envelope(s.subdomain);
    })],
    // triggersDeploy (cli.js): PUT …/schedules [{ cron }] replaces the Cron Triggers.
    ["PUT", re("\\/scripts\\/([^/]+)\\/schedules"), (m, req) => existing(m, (s) => {
      s.schedules = JSON.parse(req.body || "[]");
      return envelope({ schedules: s.schedules });
    })],
    // collectPendingResources (cli.js) reads GET …/settings for the bindings deployed now (API
    // reference, "Get Settings"); it tolerates an error, as for a new Worker.
    ["GET", re("\\/scripts\\/([^/]+)\\/settings"), (m) => existing(m, (s) => {
      const live = s.versions.find((v) => v.id === s.deployments[0]?.versions[0]?.version_id);
      return envelope({ ...s.settings, bindings: live?.resources.bindings ?? [],
        compatibility_date: live?.resources.script_runtime.compatibility_date, usage_model: "standard" });
    })],
    // patchNonVersionedScriptSettings (cli.js): PATCH …/script-settings (observability, tags).
    ["PATCH", re("\\/scripts\\/([^/]+)\\/script-settings"), (m, req) => existing(m, (s) => {
      Object.assign(s.settings, JSON.parse(req.body || "{}"));
      return envelope(s.settings);
    })],
    // `wrangler deploy` of a new Worker, or with a Durable Object migration pending: PUT the script
    // (multipart, metadata.migrations = { old_tag?, new_tag, steps }, getMigrationsToUpload). The
    // API applies the steps and records new_tag; an old_tag that is not the Worker's current tag
    // is refused (API reference, "Upload Worker Module", migrations.old_tag: "Tag used to verify
    // against the latest migration tag for this Worker. If they don't match, the upload is
    // rejected."). The upload is deployed at once: a new version at 100%.
    ["PUT", re("\\/scripts\\/([^/]+)"), async (m, req) => {
      if (!account(m)) return [403, failure(10000, "Authentication error")];
      const { metadata, modules } = await uploadForm(req);
      const current = scripts.get(m[2])?.migration_tag ?? null;
      const mig = metadata.migrations;
      if (mig && (mig.old_tag ?? null) !== current) {
        return [400, failure(10079, `migration precondition failed: old_tag ${mig.old_tag} is not the current tag ${current}`)];
      }
      const s = script(m[2]);
      if (mig) {
        s.migrations.push({ old_tag: mig.old_tag ?? null, new_tag: mig.new_tag, steps: mig.steps });
        s.migration_tag = mig.new_tag;
      }
      s.modified_on = now();
      const version = addVersion(s, metadata, modules, "upload");
      addDeployment(s, [{ version_id: version.id, percentage: 100 }], metadata.annotations?.["workers/message"], "upload");
      // deploy (cli.js) reads deployment_id (as the version id), etag and startup_time_ms.
      return envelope({ id: s.name, etag: version.resources.script.etag, deployment_id: version.id, startup_time_ms: 1,
        handlers: ["fetch", "scheduled"], migration_tag: s.migration_tag, usage_model: "standard", created_on: s.created_on,
        modified_on: s.modified_on });
    }],
    // `versions upload` (and `deploy` of an existing Worker with nothing to migrate): POST
    // …/versions; the new version serves nothing until a deployment names it. Wrangler reads id,
    // startup_time_ms and metadata.has_preview.
    ["POST", re("\\/scripts\\/([^/]+)\\/versions"), async (m, req) => {
      const { metadata, modules } = await uploadForm(req);
      return existing(m, (s) => envelope(addVersion(s, metadata, modules, "version_upload")));
    }],
    // fetchDeployableVersions (cli.js): { items: [...] }.
    ["GET", re("\\/scripts\\/([^/]+)\\/versions"), (m) => existing(m, (s) => envelope({ items: [...s.versions].reverse() }))],
    // fetchVersion (cli.js).
    ["GET", re("\\/scripts\\/([^/]+)\\/versions\\/([^/]+)"), (m) => existing(m, (s) => {
      const v = s.versions.find((x) => x.id === m[3]);
      return v ? envelope(v) : [404, failure(10212, `version ${m[3]} not found`)];
    })],
    // fetchLatestDeployments (cli.js): { deployments }, newest first.
    ["GET", re("\\/scripts\\/([^/]+)\\/deployments"), (m) => existing(m, (s) => envelope({ deployments: s.deployments }))],
    // createDeployment (cli.js): { strategy: "percentage", versions: [{ version_id, percentage }],
    // annotations }. The API refuses unknown versions and percentages that do not add up to 100.
    ["POST", re("\\/scripts\\/([^/]+)\\/deployments"), (m, req) => existing(m, (s) => {
      const { versions = [], annotations = {} } = JSON.parse(req.body || "{}");
      const unknown = versions.find((v) => !s.versions.some((x) => x.id === v.version_id));
      if (unknown) return [400, failure(10212, `version ${unknown.version_id} not found`)];
      const total = versions.reduce((a, v) => a + v.percentage, 0);
      if (Math.abs(total - 100) > 1e-9) return [400, failure(10203, `percentages add up to ${total}, not 100`)];
      return envelope(addDeployment(s, versions, annotations["workers/message"], "deployment"));
    })],
    // executeRemotely / d1ApiPost (cli.js): POST /d1/database/<uuid>/query { sql } answers one
    // result per statement batch: [{ results, success, meta }]. `d1 migrations apply` creates the
    // d1_migrations table, lists it (listAppliedMigrations), then sends each migration file with
    // its INSERT INTO d1_migrations (buildMigrationQuery).
    ["POST", /^\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/query$/, (m, req) => {
      const db = d1.get(m[2]);
      if (!account(m) || !db) return [404, failure(7404, `The database ${m[2]} could not be found`)];
      const { sql = "" } = JSON.parse(req.body || "{}");
      db.sql.push(sql);
      const meta = { duration: 0.1, changes: 0, rows_read: 0, rows_written: 0, size_after: 0 };
      let results = [];
      if (/^\s*SELECT \*\s+FROM "d1_migrations"/i.test(sql)) {
        results = db.applied.map((name, i) => ({ id: i + 1, name, applied_at: now() }));
      }
      for (const [, name] of sql.matchAll(/INSERT INTO "d1_migrations" \(name\)\s+values \('((?:[^']|'')+)'\)/gi)) {
        db.applied.push(name.replaceAll("''", "'"));
      }
      return envelope([{ results, success: true, meta }]);
    }],
  ];

  return {
    routes,
    scripts,
    /** A Worker some other project deployed to the account: one version, live at 100%, with `bindings`. */
    addScript(name, { bindings = [] } = {}) {
      const s = script(name);
      const version = addVersion(s, { bindings, compatibility_date: "2026-01-01", main_module: "index.js" }, ["index.js"], "upload");
      addDeployment(s, [{ version_id: version.id, percentage: 100 }], "other project", "upload");
      return s;
    },
    /** Declares a D1 database's query endpoint (the database itself is listed by the main fake). */
    addD1(uuid) {
      if (!d1.has(uuid)) d1.set(uuid, { applied: [], sql: [] });
      return d1.get(uuid);
    },
    d1,
  };
}
