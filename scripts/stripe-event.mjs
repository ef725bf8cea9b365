// Signed Stripe test events for the local worker, shaped like Stripe API version STRIPE_API_VERSION.
// The end-to-end tests build their events here too.
//
//   npm run stripe:event -- <type> --user <OAuth sub> [--lookup-key pro] [--status active]
//                           [--url http://127.0.0.1:8787] [--secret whsec_…] [--created <unix s>]
//
// Types: checkout.session.completed, customer.created, customer.updated,
// customer.subscription.{created,updated,deleted,paused,resumed}, invoice.paid,
// invoice.payment_failed, entitlements.active_entitlement_summary.updated, or any other type
// (sent with an empty object, which mKit records as ignored). The customer and subscription ids
// are derived from --user, so `…deleted --user alice` ends what `…created --user alice` started.

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import Stripe from "stripe";

/** The API version these shapes follow: the one the pinned `stripe` package speaks. */
export const STRIPE_API_VERSION = Stripe.API_VERSION;
const stripe = new Stripe("sk_test_unused");

/** The id of a user's Stripe object of one kind: the same for every event about it. */
export const idFor = (prefix, user) => `${prefix}_mkit_${createHash("sha256").update(user).digest("hex").slice(0, 14)}`;

/** A Stripe event envelope around `object`. */
export function envelope(type, object, { created = Math.floor(Date.now() / 1000) } = {}) {
  return {
    id: `evt_${randomBytes(12).toString("hex")}`, object: "event", api_version: STRIPE_API_VERSION, created,
    data: { object }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
  };
}

/** The data.object of `type` for `user`. */
export function objectFor(type, { user, lookupKey = "pro", status, customer = idFor("cus", user), subscription = idFor("sub", user) }) {
  const now = Math.floor(Date.now() / 1000);
  if (type === "checkout.session.completed") {
    return { id: idFor("cs_test", user), object: "checkout.session", mode: "subscription", status: "complete",
      payment_status: "paid", customer, subscription, metadata: user ? { mkit_user: user } : {} };
  }
  if (type === "customer.created" || type === "customer.updated") {
    return { id: customer, object: "customer", email: null, metadata: { mkit_user: user } };
  }
  if (type.startsWith("customer.subscription.")) {
    const defaults = { "customer.subscription.deleted": "canceled", "customer.subscription.paused": "paused" };
    return {
      id: subscription, object: "subscription", customer, metadata: { mkit_user: user },
      status: status ?? defaults[type] ?? "active", cancel_at_period_end: false, created: now,
      items: { object: "list", has_more: false, data: [{
        id: idFor("si", user), object: "subscription_item", current_period_start: now, current_period_end: now + 30 * 86400,
        price: { id: idFor("price", lookupKey), object: "price", lookup_key: lookupKey, type: "recurring" }, quantity: 1,
      }] },
    };
  }
  if (type === "invoice.paid" || type === "invoice.payment_failed") {
    return { id: idFor("in", user), object: "invoice", customer, status: type === "invoice.paid" ? "paid" : "open",
      parent: { type: "subscription_details", quote_details: null,
        subscription_details: { subscription, metadata: { mkit_user: user } } } };
  }
  if (type === "entitlements.active_entitlement_summary.updated") {
    return { object: "entitlements.active_entitlement_summary", customer, livemode: false,
      entitlements: { object: "list", has_more: false, url: `/v1/customers/${customer}/entitlements`,
        data: lookupKey ? [{ id: idFor("ent", user), object: "entitlements.active_entitlement", feature: idFor("feat", lookupKey), livemode: false, lookup_key: lookupKey }] : [] } };
  }
  return { id: "obj_unused" };
}

/** The `Stripe-Signature` header for `payload`, made by Stripe's own library. */
export function signedHeader(payload, secret, { timestamp } = {}) {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

/** POSTs `payload` (a string) to the webhook, signed with `secret` by Stripe's own library. */
export function deliver(url, payload, secret, { timestamp } = {}) {
  const header = signedHeader(payload, secret, { timestamp });
  return fetch(`${url.replace(/\/$/, "")}/stripe/webhook`, {
    method: "POST", headers: { "content-type": "application/json", "stripe-signature": header }, body: payload,
  });
}

function devSecret() {
  try {
    const line = readFileSync(".dev.vars", "utf8").split("\n").find((l) => l.startsWith("STRIPE_WEBHOOK_SECRET="));
    return line?.slice("STRIPE_WEBHOOK_SECRET=".length).split(",")[0].trim();
  } catch {
    return undefined;
  }
}

async function main(argv) {
  const [type, ...rest] = argv;
  const opts = {};
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]?.replace(/^--/, "").replace(/-(.)/g, (_, c) => c.toUpperCase());
    if (!rest[i]?.startsWith("--") || rest[i + 1] === undefined) throw new Error(`expected --option value, got ${rest[i]}`);
    opts[key] = rest[i + 1];
  }
  if (!type || !opts.user) throw new Error("usage: npm run stripe:event -- <event type> --user <OAuth sub> [--lookup-key pro]");
  const secret = opts.secret ?? process.env.STRIPE_WEBHOOK_SECRET ?? devSecret();
  if (!secret) throw new Error("no secret: pass --secret, set STRIPE_WEBHOOK_SECRET, or run `make dev` once to write .dev.vars");
  const url = opts.url ?? "http://127.0.0.1:8787";
  const event = envelope(type, objectFor(type, opts), opts.created ? { created: Number(opts.created) } : {});
  const res = await deliver(url, JSON.stringify(event), secret);
  console.log(`${type} ${event.id} → HTTP ${res.status} ${await res.text()}`);
  return res.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(`stripe:event: ${e.message}`);
    process.exit(2);
  });
}
