// A fake Stripe API on loopback that records every request it is sent and answers the few calls
// mKit makes with realistic JSON: price lookup by lookup key, Checkout Sessions, Billing Portal
// sessions and the subscription list (paginated). `/pay/:id` and `/portal/:id` are tiny HTML pages
// so a browser sent to a session's `url` lands somewhere. Failures and delays can be injected per
// route. `assertSameAsStripeNode` replays a recorded call through the official `stripe` package
// and checks both requests carry the same parameters, so the fake never has to be trusted on
// what Stripe's wire format is.
//
//   const stripe = await startFakeStripe();
//   stripe.addPrice("mkit_pro_monthly", { unit_amount: 900 });
//   ...point the worker at stripe.url (it speaks `/v1/...` there)...
//   const [req] = stripe.requestsTo("POST", "/v1/checkout/sessions");
//   await assertSameAsStripeNode(req, (s) => s.checkout.sessions.create(expected, { idempotencyKey: req.headers["idempotency-key"] }));

import { AssertionError } from "node:assert";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Stripe from "stripe";

/** The Stripe-Version the pinned `stripe` package sends by default. */
export const STRIPE_API_VERSION = Stripe.API_VERSION;

const FORM = "application/x-www-form-urlencoded";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rid = (prefix, n = 12) => `${prefix}_${randomBytes(n).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);

// ---- Stripe's form encoding ----------------------------------------------------------------

/**
 * Decodes `application/x-www-form-urlencoded` (a request body, or a query string with or
 * without its `?`) into the nested shape Stripe reads: `a[b]=c` → {a: {b: "c"}},
 * `a[0][b]=c` → {a: [{b: "c"}]}, `a[]=x&a[]=y` → {a: ["x", "y"]}. Indexed arrays are ordered by
 * index (gaps closed); a repeated scalar key keeps its last value. Every leaf is a string.
 * Throws on keys that mix an array and an object at one place (`a[0]=x&a[b]=y`).
 */
export function decodeStripeForm(input) {
  const text = String(input ?? "").replace(/^\?/, "");
  const root = objNode();
  if (!text) return {};
  for (const part of text.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawVal = eq < 0 ? "" : part.slice(eq + 1);
    const key = decodeComponent(rawKey);
    const value = decodeComponent(rawVal);
    const path = parseKey(key);
    insert(root, path, value, key);
  }
  return finish(root);
}

function decodeComponent(s) {
  return decodeURIComponent(s.replace(/\+/g, " "));
}

/** `a[b][0][]` → ["a", "b", "0", ""]. A key without brackets is one segment. */
function parseKey(key) {
  const open = key.indexOf("[");
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/gy;
  re.lastIndex = open;
  let m;
  let end = open;
  while ((m = re.exec(key))) {
    segments.push(m[1]);
    end = re.lastIndex;
  }
  // Trailing garbage after the last `]` (e.g. `a[b]c`): keep it literally on the last segment.
  if (end < key.length) segments[segments.length - 1] += key.slice(end);
  return segments;
}

const objNode = () => ({ kind: "obj", map: new Map() });
const arrNode = () => ({ kind: "arr", map: new Map(), next: 0 });
const isIndex = (s) => /^\d+$/.test(s);

function insert(node, path, value, fullKey) {
  const [seg, ...rest] = path;
  let slot;
  if (node.kind === "arr") {
    if (seg === "") {
      // `a[][b]=1&a[][c]=2` fills one element until a key repeats (Rack's rule); `a[]=x` appends.
      const last = node.map.get(node.next - 1);
      if (rest.length && last && typeof last === "object" && last.kind === "obj" && !last.map.has(rest[0])) {
        slot = node.next - 1;
      } else {
        slot = node.next++;
      }
    } else if (isIndex(seg)) {
      slot = Number(seg);
      node.next = Math.max(node.next, slot + 1);
    } else {
      throw new Error(`form key ${JSON.stringify(fullKey)}: "${seg}" is an object key where an array was started`);
    }
  } else {
    slot = seg;
  }
  if (!rest.length) {
    node.map.set(slot, value);
    return;
  }
  let child = node.map.get(slot);
  const wantArr = rest[0] === "" || isIndex(rest[0]);
  if (child === undefined || typeof child === "string") {
    child = wantArr ? arrNode() : objNode();
    node.map.set(slot, child);
  } else if (child.kind === "obj" && wantArr && rest[0] === "") {
    throw new Error(`form key ${JSON.stringify(fullKey)}: "[]" where an object was started`);
  }
  insert(child, rest, value, fullKey);
}

function finish(node) {
  if (typeof node === "string") return node;
  if (node.kind === "arr") {
    return [...node.map.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => finish(v));
  }
  const out = {};
  for (const [k, v] of node.map) out[k] = finish(v);
  return out;
}

// ---- the server ----------------------------------------------------------------------------

function stripeError(status, message, extra = {}) {
  const type = status === 401 ? "invalid_request_error"
    : status === 402 ? "card_error"
      : status === 429 ? "invalid_request_error"
        : status >= 500 ? "api_error" : "invalid_request_error";
  return { status, body: { error: { type, message, ...extra } } };
}

const html = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body><h1>${title}</h1>${body}</body></html>`;

/** Matches a route pattern (exact string, `*`, a path with `:param` parts, or a RegExp) to a path. */
function matches(pattern, path) {
  if (pattern === "*") return true;
  if (pattern instanceof RegExp) return pattern.test(path);
  if (!pattern.includes(":")) return pattern === path;
  const p = pattern.split("/");
  const a = path.split("/");
  return p.length === a.length && p.every((seg, i) => seg.startsWith(":") ? a[i] !== "" : seg === a[i]);
}

/**
 * Starts the fake on 127.0.0.1 (options: port). Returns:
 *   url                    base URL, e.g. http://127.0.0.1:1234 (the API is under /v1)
 *   port
 *   requests               every request, oldest first: { method, path, query, headers, rawBody,
 *                          body, contentType, at, status } (query/body decoded by decodeStripeForm;
 *                          headers lower-cased; status is what the fake answered)
 *   requestsTo(method, path)   the recorded requests for one route (path may be a pattern)
 *   addPrice(lookupKey, fields?)       registers a recurring price (fields override, e.g.
 *                          { type: "one_time", recurring: null, metadata }); returns it
 *   addSubscription(fields?)          registers a subscription (give `customer`, optionally
 *                          `price` (an id or a price object), `status`, `metadata`); returns it
 *   respond(method, path, handler)    override a route: handler(request) returns { status, body,
 *                          headers } or a plain object (sent as 200 JSON); may be async.
 *                          method/path may be "*"; path may use `:id` or be a RegExp
 *   failNext(path, status = 500, { method, times, message, body })   the next call(s) fail
 *   delayNext(path, ms, { method, times })  the next call(s) answer after `ms`
 *   meterEvents            identifier → meter event counted (a resent identifier is not counted
 *                          again; it is listed in meterDuplicates)
 *   reset({ fixtures })    forget requests, meter events, overrides, injected failures/delays and idempotency
 *                          keys; with { fixtures: true } also the prices and subscriptions
 *   stop()
 */
export async function startFakeStripe({ port = 0 } = {}) {
  const requests = [];
  const state = {
    prices: new Map(), // lookup_key → price
    subscriptions: [], // newest first, like Stripe lists
    overrides: [], // { method, path, handler }
    injections: [], // { kind: "fail"|"delay", method, path, times, ... }
    idempotency: new Map(), // key → { fingerprint, status, body }
    meterEvents: new Map(), // identifier → the meter event counted (Stripe dedupes identifiers)
    paymentIntents: [], // crypto PaymentIntents created (transaction_verification)
    chain: () => null, // (network, hash) → { to, value } of the USDC transfer, or null
    meterDuplicates: [], // identifiers sent again after being counted
  };
  let base = "";

  const priceById = (id) => [...state.prices.values()].find((p) => p.id === id);

  const fake = {
    url: "",
    port: 0,
    requests,
    /** Meter events Stripe would count, by identifier; and identifiers it was sent again. */
    meterEvents: state.meterEvents,
    meterDuplicates: state.meterDuplicates,
    /** Crypto PaymentIntents created, oldest first. */
    paymentIntents: state.paymentIntents,
    /**
     * What Stripe's verification of a crypto transaction sees on chain: `lookup(network, hash)`
     * answers the USDC transfer `{ to, value }` (value in atomic units) or null.
     */
    verifyTransactionsWith(lookup) {
      state.chain = lookup;
    },
    requestsTo(method, path) {
      return requests.filter((r) => (method === "*" || r.method === method.toUpperCase()) && matches(path, r.path));
    },
    addPrice(lookupKey, fields = {}) {
      const amount = fields.unit_amount ?? 1000;
      const price = {
        id: fields.id ?? rid("price", 12),
        object: "price",
        active: true,
        billing_scheme: "per_unit",
        created: now(),
        currency: "usd",
        custom_unit_amount: null,
        livemode: false,
        lookup_key: lookupKey,
        metadata: {},
        nickname: null,
        product: fields.product ?? rid("prod", 7),
        tax_behavior: "unspecified",
        tiers_mode: null,
        transform_quantity: null,
        type: "recurring",
        unit_amount: amount,
        unit_amount_decimal: String(amount),
        ...fields,
        recurring: fields.recurring === null ? null : { interval: "month", interval_count: 1, meter: null,
          trial_period_days: null, usage_type: "licensed", ...fields.recurring },
      };
      state.prices.set(lookupKey, price);
      return price;
    },
    addSubscription(fields = {}) {
      const { price: priceIn, ...rest } = fields;
      const price = typeof priceIn === "string" ? (priceById(priceIn) ?? { id: priceIn, object: "price" })
        : priceIn ?? [...state.prices.values()][0] ?? fake.addPrice("default");
      const created = fields.created ?? now() + state.subscriptions.length; // distinct, increasing
      const start = created;
      const end = start + 30 * 24 * 3600;
      const id = fields.id ?? rid("sub", 12);
      const sub = {
        id,
        object: "subscription",
        cancel_at: null,
        cancel_at_period_end: false,
        canceled_at: null,
        collection_method: "charge_automatically",
        created,
        currency: price.currency ?? "usd",
        customer: fields.customer ?? rid("cus", 7),
        ended_at: null,
        items: {
          object: "list",
          data: [{ id: rid("si", 7), object: "subscription_item", created, current_period_start: start,
            current_period_end: end, metadata: {}, price, quantity: 1, subscription: id }],
          has_more: false,
          total_count: 1,
          url: `/v1/subscription_items?subscription=${id}`,
        },
        livemode: false,
        metadata: {},
        start_date: start,
        status: "active",
        ...rest,
      };
      state.subscriptions.push(sub);
      state.subscriptions.sort((a, b) => b.created - a.created);
      return sub;
    },
    respond(method, path, handler) {
      state.overrides.unshift({ method: method.toUpperCase(), path, handler });
    },
    failNext(path, status = 500, { method = "*", times = 1, message, body } = {}) {
      state.injections.push({ kind: "fail", method: method.toUpperCase(), path, times, status, message, body });
    },
    delayNext(path, ms, { method = "*", times = 1 } = {}) {
      state.injections.push({ kind: "delay", method: method.toUpperCase(), path, times, ms });
    },
    reset({ fixtures = false } = {}) {
      requests.length = 0;
      state.overrides.length = 0;
      state.injections.length = 0;
      state.idempotency.clear();
      state.meterEvents.clear();
      state.meterDuplicates.length = 0;
      state.paymentIntents.length = 0;
      if (fixtures) {
        state.prices.clear();
        state.subscriptions.length = 0;
      }
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };

  /** Takes the first pending injection of `kind` for this request, counting it down. */
  const take = (kind, rec) => {
    const i = state.injections.findIndex((j) => j.kind === kind && (j.method === "*" || j.method === rec.method) &&
      matches(j.path, rec.path));
    if (i < 0) return null;
    const j = state.injections[i];
    if (--j.times <= 0) state.injections.splice(i, 1);
    return j;
  };

  // ---- the API -------------------------------------------------------------------------------

  function authorized(rec) {
    const auth = rec.headers.authorization ?? "";
    if (/^Bearer \S+$/.test(auth)) return true;
    const basic = /^Basic (\S+)$/.exec(auth);
    return Boolean(basic && Buffer.from(basic[1], "base64").toString().split(":")[0]);
  }

  function list(url, data, { limit, startingAfter, endingBefore }) {
    let items = data;
    if (startingAfter) {
      const i = items.findIndex((x) => x.id === startingAfter);
      if (i < 0) return stripeError(400, `No such object: '${startingAfter}'`, { param: "starting_after", code: "resource_missing" });
      items = items.slice(i + 1);
    } else if (endingBefore) {
      const i = items.findIndex((x) => x.id === endingBefore);
      if (i < 0) return stripeError(400, `No such object: '${endingBefore}'`, { param: "ending_before", code: "resource_missing" });
      items = items.slice(Math.max(0, i - limit), i);
      return { status: 200, body: { object: "list", data: items, has_more: i - limit > 0, url } };
    }
    return { status: 200, body: { object: "list", data: items.slice(0, limit), has_more: items.length > limit, url } };
  }

  function parseLimit(q) {
    if (q.limit === undefined) return 10;
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 100) return null;
    return n;
  }

  const routes = [
    ["GET", "/v1/prices", (rec) => {
      const q = rec.query;
      const limit = parseLimit(q);
      if (limit === null) return stripeError(400, "Invalid integer: " + q.limit, { param: "limit" });
      let keys = q.lookup_keys;
      if (keys !== undefined && !Array.isArray(keys)) {
        return stripeError(400, "Invalid array", { param: "lookup_keys" });
      }
      if (keys && keys.length > 10) return stripeError(400, "You may only specify up to 10 lookup keys.", { param: "lookup_keys" });
      let prices = [...state.prices.values()];
      if (keys) prices = prices.filter((p) => keys.includes(p.lookup_key));
      if (q.active !== undefined) prices = prices.filter((p) => String(p.active) === q.active);
      if (q.type !== undefined) prices = prices.filter((p) => p.type === q.type);
      return list("/v1/prices", prices, { limit, startingAfter: q.starting_after, endingBefore: q.ending_before });
    }],
    ["GET", "/v1/prices/:id", (rec) => {
      const id = rec.path.split("/").at(-1);
      const price = priceById(id);
      return price ? { status: 200, body: price }
        : stripeError(404, `No such price: '${id}'`, { param: "price", code: "resource_missing" });
    }],
    ["POST", "/v1/checkout/sessions", (rec) => {
      const b = rec.body;
      if (!b.mode) return stripeError(400, "Missing required param: mode.", { param: "mode", code: "parameter_missing" });
      if (!["payment", "setup", "subscription"].includes(b.mode)) {
        return stripeError(400, `Invalid mode: must be one of payment, setup, or subscription`, { param: "mode" });
      }
      if (b.mode !== "setup" && !Array.isArray(b.line_items)) {
        return stripeError(400, "Missing required param: line_items.", { param: "line_items", code: "parameter_missing" });
      }
      for (const [i, item] of (b.line_items ?? []).entries()) {
        if (item.price && !priceById(item.price)) {
          return stripeError(400, `No such price: '${item.price}'`, { param: `line_items[${i}][price]`, code: "resource_missing" });
        }
      }
      if ((b.ui_mode ?? "hosted") === "hosted" && !b.success_url) {
        return stripeError(400, "Missing required param: success_url.", { param: "success_url", code: "parameter_missing" });
      }
      if (b.customer && b.customer_email) {
        return stripeError(400, "You may only specify one of these parameters: customer, customer_email.", { param: "customer" });
      }
      const id = rid("cs_test", 24);
      const { line_items: _items, expand: _expand, ...echo } = b;
      const created = now();
      return { status: 200, body: {
        ...echo,
        id,
        object: "checkout.session",
        cancel_url: b.cancel_url ?? null,
        client_reference_id: b.client_reference_id ?? null,
        created,
        customer: b.customer ?? null,
        customer_email: b.customer_email ?? null,
        expires_at: created + 24 * 3600,
        livemode: false,
        metadata: b.metadata ?? {},
        mode: b.mode,
        payment_status: "unpaid",
        status: "open",
        subscription: null,
        success_url: b.success_url ?? null,
        url: `${base}/pay/${id}`,
      } };
    }],
    ["POST", "/v1/billing/meter_events", (rec) => {
      const b = rec.body;
      for (const param of ["event_name", "payload"]) {
        if (!b[param]) return stripeError(400, `Missing required param: ${param}.`, { param, code: "parameter_missing" });
      }
      if (!b.payload.stripe_customer_id || b.payload.value === undefined) {
        return stripeError(400, "The payload must contain stripe_customer_id and value.", { param: "payload", code: "parameter_missing" });
      }
      const timestamp = b.timestamp === undefined ? now() : Number(b.timestamp);
      if (!Number.isInteger(timestamp) || timestamp < now() - 35 * 86400 || timestamp > now() + 300) {
        return stripeError(400, "Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.",
          { param: "timestamp", code: "parameter_invalid_integer" });
      }
      const identifier = b.identifier ?? rid("mev", 12);
      const event = { object: "billing.meter_event", created: now(), event_name: b.event_name, identifier,
        livemode: false, payload: b.payload, timestamp };
      if (state.meterEvents.has(identifier)) state.meterDuplicates.push(identifier);
      else state.meterEvents.set(identifier, event);
      return { status: 200, body: event };
    }],
    // A crypto PaymentIntent recorded from an on-chain payment (Stripe's x402 sample:
    // stripe-samples/machine-payments x402/server/node-typescript/main.ts, mode
    // transaction_verification, confirm true). Stripe documents no error code for a transaction it
    // cannot match; the fake answers Stripe's shape for an invalid parameter, naming the hash.
    ["POST", "/v1/payment_intents", (rec) => {
      const b = rec.body;
      const crypto = b.payment_method_options?.crypto;
      const verification = crypto?.transaction_verification_options;
      const param = "payment_method_options[crypto][transaction_verification_options][transaction_hash]";
      if (!/^[1-9]\d*$/.test(b.amount ?? "")) return stripeError(400, "Invalid positive integer", { param: "amount", code: "parameter_invalid_integer" });
      if (b.currency !== "usd") return stripeError(400, "Crypto payments are in usd.", { param: "currency", code: "parameter_invalid_string" });
      if (JSON.stringify(b.payment_method_types) !== JSON.stringify(["crypto"]) || b.payment_method_data?.type !== "crypto"
        || crypto?.mode !== "transaction_verification" || b.confirm !== "true") {
        return stripeError(400, "The fake records crypto PaymentIntents in transaction_verification mode only.", { param: "payment_method_options" });
      }
      if (!verification?.network || !verification?.transaction_hash) {
        return stripeError(400, "Missing required param: transaction_verification_options.", { param, code: "parameter_missing" });
      }
      const transfer = state.chain(verification.network, verification.transaction_hash);
      if (!transfer || BigInt(transfer.value) !== BigInt(b.amount) * 10_000n) {
        return stripeError(400, "No USDC transfer of this amount was found in this transaction.", { param, code: "parameter_invalid_string" });
      }
      const pi = { id: rid("pi", 12), object: "payment_intent", amount: Number(b.amount), currency: "usd", status: "succeeded",
        payment_method_types: ["crypto"], metadata: b.metadata ?? {}, created: now(), livemode: false,
        payment_method_options: { crypto: { mode: "transaction_verification" } }, deposit_address: transfer.to,
        transaction_hash: verification.transaction_hash };
      state.paymentIntents.push(pi);
      return { status: 200, body: pi };
    }],
    ["POST", "/v1/billing_portal/sessions", (rec) => {
      const b = rec.body;
      if (!b.customer) return stripeError(400, "Missing required param: customer.", { param: "customer", code: "parameter_missing" });
      const id = rid("bps", 12);
      return { status: 200, body: {
        id,
        object: "billing_portal.session",
        configuration: "bpc_fake",
        created: now(),
        customer: b.customer,
        flow: null,
        livemode: false,
        locale: b.locale ?? null,
        on_behalf_of: null,
        return_url: b.return_url ?? null,
        url: `${base}/portal/${id}`,
      } };
    }],
    ["GET", "/v1/subscriptions", (rec) => {
      const q = rec.query;
      const limit = parseLimit(q);
      if (limit === null) return stripeError(400, "Invalid integer: " + q.limit, { param: "limit" });
      let subs = state.subscriptions;
      if (q.customer) subs = subs.filter((s) => s.customer === q.customer);
      if (q.price) subs = subs.filter((s) => s.items.data.some((it) => it.price.id === q.price));
      const status = q.status;
      if (status === undefined) subs = subs.filter((s) => s.status !== "canceled" && s.status !== "incomplete_expired");
      else if (status === "ended") subs = subs.filter((s) => s.status === "canceled" || s.status === "incomplete_expired");
      else if (status !== "all") subs = subs.filter((s) => s.status === status);
      return list("/v1/subscriptions", subs, { limit, startingAfter: q.starting_after, endingBefore: q.ending_before });
    }],
    ["GET", "/pay/:id", (rec) => ({ status: 200, headers: { "content-type": "text/html; charset=utf-8" },
      text: html("Fake Stripe Checkout", `<p id="session">${rec.path.split("/")[2]}</p>`) })],
    ["GET", "/portal/:id", (rec) => ({ status: 200, headers: { "content-type": "text/html; charset=utf-8" },
      text: html("Fake Stripe Billing Portal", `<p id="session">${rec.path.split("/")[2]}</p>`) })],
  ];

  async function answer(rec) {
    const override = state.overrides.find((o) => (o.method === "*" || o.method === rec.method) && matches(o.path, rec.path));
    if (override) {
      const out = await override.handler(rec);
      return out && typeof out === "object" && "status" in out && ("body" in out || "text" in out)
        ? out : { status: 200, body: out };
    }
    const isApi = rec.path.startsWith("/v1/");
    if (isApi && !authorized(rec)) {
      return stripeError(401, "You did not provide an API key. You need to provide your API key in the Authorization header, " +
        "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
    }
    if (rec.bodyError) return stripeError(400, `Invalid request body: ${rec.bodyError}`);
    if (isApi && rec.rawBody && !rec.contentType.startsWith(FORM)) {
      return stripeError(400, `Invalid request: unsupported Content-Type ${rec.contentType || "(none)"}. ` +
        `Stripe's API takes ${FORM}.`);
    }
    const route = routes.find(([m, p]) => m === rec.method && matches(p, rec.path));
    if (!route) {
      return stripeError(404, `Unrecognized request URL (${rec.method}: ${rec.path}).`);
    }
    // Idempotency: a POST with a key seen before replays the first answer when the parameters are
    // the same and is refused when they differ, as Stripe does.
    const key = rec.headers["idempotency-key"];
    if (rec.method === "POST" && key) {
      const fingerprint = `${rec.path} ${JSON.stringify(rec.body)}`;
      const seen = state.idempotency.get(key);
      if (seen && seen.fingerprint !== fingerprint) {
        return stripeError(400, "Keys for idempotent requests can only be used with the same parameters they were first used with. " +
          "Try using a key other than '" + key + "' if you meant to execute a different request.", { type: "idempotency_error" });
      }
      if (seen) return { ...seen.response, headers: { "idempotent-replayed": "true" } };
      const response = route[2](rec);
      if (response.status < 500) state.idempotency.set(key, { fingerprint, response });
      return response;
    }
    return route[2](rec);
  }

  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const u = new URL(req.url, "http://fake");
    const contentType = String(req.headers["content-type"] ?? "");
    const rec = {
      method: req.method,
      path: u.pathname,
      rawQuery: u.search.replace(/^\?/, ""),
      query: {},
      headers: { ...req.headers },
      contentType,
      rawBody,
      body: {},
      at: Date.now(),
      status: null,
    };
    try {
      rec.query = decodeStripeForm(rec.rawQuery);
      if (rawBody && contentType.startsWith(FORM)) rec.body = decodeStripeForm(rawBody);
    } catch (e) {
      rec.bodyError = e.message;
    }
    requests.push(rec);

    let out;
    try {
      const delay = take("delay", rec);
      if (delay) await sleep(delay.ms);
      const fail = take("fail", rec);
      out = fail
        ? (fail.body ? { status: fail.status, body: fail.body } : stripeError(fail.status, fail.message ??
          `Injected failure (${fail.status}) for ${rec.method} ${rec.path}.`))
        : await answer(rec);
    } catch (e) {
      out = stripeError(500, `fake-stripe handler threw: ${e.message}`);
    }
    rec.status = out.status;
    rec.response = out.body;
    if (res.destroyed) return; // the client gave up (e.g. a timeout during an injected delay)
    const headers = { "request-id": rid("req", 7), "stripe-version": rec.headers["stripe-version"] ?? STRIPE_API_VERSION,
      ...out.headers };
    if (out.text !== undefined) {
      res.writeHead(out.status, { "content-type": "text/plain; charset=utf-8", ...headers });
      res.end(out.text);
    } else {
      res.writeHead(out.status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(out.body ?? {}));
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => ok());
  });
  fake.port = server.address().port;
  fake.url = base = `http://127.0.0.1:${fake.port}`;
  return fake;
}

// ---- comparison with the official client ---------------------------------------------------

/** One request's comparable parts. */
function comparable(rec) {
  return { method: rec.method, path: rec.path, query: rec.query, body: rec.body };
}

/** Lists the places two decoded values differ, as "where: ours vs theirs". */
function differences(a, b, where = "", out = []) {
  if (a === b) return out;
  const bothObjects = a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) {
    out.push(`${where || "(value)"}: ${JSON.stringify(a)} (ours) vs ${JSON.stringify(b)} (stripe-node)`);
    return out;
  }
  const keys = Array.isArray(a) ? [...Array(Math.max(a.length, b.length)).keys()] : [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) differences(a[k], b[k], Array.isArray(a) ? `${where}[${k}]` : where ? `${where}.${k}` : k, out);
  return out;
}

/**
 * Makes the same call with the official `stripe` package (the pinned version) against a
 * throwaway capture server, and compares it with `recorded` (a request from a fake's
 * `requests`). `call(stripe)` makes the call, e.g.
 *   (stripe) => stripe.checkout.sessions.create(params, { idempotencyKey })
 * Options: apiKey (default: the Bearer key of `recorded`; given explicitly, the keys must match),
 * apiVersion (default: the package's pinned version).
 * Returns { ours, theirs, problems }: the two requests and a list of what differs (empty = same).
 */
export async function compareWithOfficialClient(recorded, call, { apiKey, apiVersion = STRIPE_API_VERSION } = {}) {
  const bearer = /^Bearer (\S+)$/.exec(recorded.headers.authorization ?? "")?.[1];
  const key = apiKey ?? bearer ?? "sk_test_compare";
  const capture = await startFakeStripe();
  capture.respond("*", "*", () => ({ id: "captured", object: "capture" }));
  let theirs;
  try {
    const stripe = new Stripe(key, { host: "127.0.0.1", port: capture.port, protocol: "http", apiVersion,
      maxNetworkRetries: 0, telemetry: false, timeout: 10_000 });
    try {
      await call(stripe);
    } catch (e) {
      if (!capture.requests.length) throw e; // the call never reached the wire: a bug in the test
    }
    if (capture.requests.length !== 1) {
      throw new Error(`the stripe-node call made ${capture.requests.length} requests; compare one call at a time`);
    }
    theirs = capture.requests[0];
  } finally {
    await capture.stop();
  }

  const problems = differences(comparable(recorded), comparable(theirs));
  const h = (r, name) => r.headers[name];
  if (h(recorded, "stripe-version") !== h(theirs, "stripe-version")) {
    problems.push(`Stripe-Version: ${JSON.stringify(h(recorded, "stripe-version"))} (ours) vs ${JSON.stringify(h(theirs, "stripe-version"))} (stripe-node)`);
  }
  if (h(recorded, "authorization") !== `Bearer ${key}`) {
    problems.push(`Authorization: ${JSON.stringify(h(recorded, "authorization"))} (ours), expected "Bearer ${apiKey ? key : "<key>"}"`);
  }
  if (recorded.method === "POST") {
    const ik = h(recorded, "idempotency-key");
    if (!ik) problems.push("Idempotency-Key: missing on a POST (ours)");
    const theirsKey = h(theirs, "idempotency-key");
    if (ik && theirsKey && !theirsKey.startsWith("stripe-node-retry-") && ik !== theirsKey) {
      problems.push(`Idempotency-Key: ${JSON.stringify(ik)} (ours) vs ${JSON.stringify(theirsKey)} (given to stripe-node)`);
    }
    if (!recorded.contentType.startsWith(FORM)) {
      problems.push(`Content-Type: ${JSON.stringify(recorded.contentType)} (ours) vs ${JSON.stringify(theirs.contentType)} (stripe-node)`);
    }
  }
  if (recorded.bodyError) problems.push(`body: not decodable (${recorded.bodyError})`);
  return { ours: recorded, theirs, problems };
}

/** compareWithOfficialClient, throwing an AssertionError that lists every difference. */
export async function assertSameAsStripeNode(recorded, call, options) {
  const { ours, theirs, problems } = await compareWithOfficialClient(recorded, call, options);
  if (problems.length) {
    throw new AssertionError({
      message: `request differs from stripe-node's for the same call:\n  ${problems.join("\n  ")}`,
      actual: comparable(ours),
      expected: comparable(theirs),
      operator: "assertSameAsStripeNode",
    });
  }
  return { ours, theirs };
}
