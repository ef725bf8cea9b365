// `make dev`'s local checkout simulation: the paid journey with no Stripe account. mKit's dev build
// (feature `local-checkout`, never deployable) sends its Stripe API calls here instead of to
// Stripe; the answers are the test suite's fake Stripe (tests/e2e/fake-stripe.mjs, whose requests
// are checked against Stripe's own Node library). Its Checkout page says plainly that it is a
// simulation; "Pay" sends the webhook events Stripe sends for a paid Checkout Session, signed with
// .dev.vars' STRIPE_WEBHOOK_SECRET by Stripe's library, to mKit's /stripe/webhook, then returns to
// the session's success_url as Stripe does.

import { startFakeStripe } from "../tests/e2e/fake-stripe.mjs";
import { deliver, envelope, idFor } from "./stripe-event.mjs";

export const LOCAL_STRIPE_PORT = 12111;
/** The key mKit's dev build sends; the simulation accepts any key, as the fake does. */
export const LOCAL_STRIPE_KEY = "sk_test_local_simulation";

const escape = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return { status: 200, headers: { "content-type": "text/html; charset=utf-8" }, text: "<!doctype html><html><head>" +
    `<meta charset="utf-8"><title>${escape(title)}</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto">` +
    `<p style="background:#fde68a;padding:.5em"><strong>Local simulation of Stripe Checkout</strong> (make dev only): no card, ` +
    `no money, no Stripe account. A deployed mKit sends buyers to Stripe.</p><h1>${escape(title)}</h1>${body}</body></html>` };
}

/**
 * Starts the simulation for the worker at `workerUrl`, selling the lookup keys in `plans`
 * (e.g. `pro`) monthly; events are signed with `webhookSecret`.
 */
export async function startLocalStripe({ workerUrl, webhookSecret, plans = ["pro"], port = LOCAL_STRIPE_PORT }) {
  const stripe = await startFakeStripe({ port });
  for (const key of plans) stripe.addPrice(key, { unit_amount: 900, nickname: `${key} (simulated)` });
  const session = (id) => stripe.requestsTo("POST", "/v1/checkout/sessions").map((r) => r.response).find((s) => s?.id === id);

  stripe.respond("GET", "/pay/:id", (rec) => {
    const s = session(rec.path.split("/")[2]);
    if (!s) return page("No such checkout", "<p>This checkout session is unknown here (was make dev restarted?).</p>");
    const user = s.metadata?.mkit_user ?? "?";
    const what = s.mode === "subscription" ? "a monthly subscription" : `${s.metadata?.mkit_credits ?? "?"} credits`;
    return page("Checkout", `<p id="what">You are buying ${escape(what)} for <code>${escape(user)}</code>.</p>` +
      `<form method="post"><button type="submit" id="pay">Pay (simulated)</button></form>` +
      `<p><a href="${escape(s.cancel_url ?? "#")}">Cancel</a></p>`);
  });

  stripe.respond("POST", "/pay/:id", async (rec) => {
    const s = session(rec.path.split("/")[2]);
    if (!s) return page("No such checkout", "<p>This checkout session is unknown here.</p>");
    const events = paidEvents(stripe, s);
    for (const event of events) {
      const res = await deliver(workerUrl, JSON.stringify(event), webhookSecret);
      if (!res.ok) return page("mKit refused the event", `<p>${escape(event.type)}: HTTP ${res.status} ${escape(await res.text())}</p>`);
    }
    return { status: 303, headers: { location: s.success_url }, text: "" };
  });
  return stripe;
}

/**
 * The events Stripe sends once a Checkout Session is paid: `checkout.session.completed` with
 * `payment_status: "paid"` (docs.stripe.com/checkout/fulfillment), and for a subscription also
 * `customer.subscription.created` carrying `subscription_data.metadata` (docs.stripe.com/billing/
 * subscriptions/webhooks); Stripe does not promise their order, and mKit's ledger takes either. The customer id is the one
 * `npm run stripe:event` uses for the same user; each purchase is a new subscription, as at Stripe
 * (a canceled subscription never comes back).
 */
function paidEvents(stripe, s) {
  const user = s.metadata?.mkit_user ?? "";
  const customer = s.customer ?? idFor("cus", user);
  const paid = { ...s, status: "complete", payment_status: "paid", customer };
  if (s.mode !== "subscription") return [envelope("checkout.session.completed", paid)];
  const price = stripe.requestsTo("POST", "/v1/checkout/sessions").find((r) => r.response?.id === s.id)?.body?.line_items?.[0]?.price;
  const sub = stripe.addSubscription({ customer, price, metadata: s.subscription_data?.metadata ?? {} });
  return [envelope("customer.subscription.created", sub), envelope("checkout.session.completed", { ...paid, subscription: sub.id })];
}
