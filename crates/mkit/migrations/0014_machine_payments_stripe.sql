-- Machine payments recorded in Stripe (#32, MKIT_X402_STRIPE=on; crates/mkit-billing/src/x402_stripe.rs).
-- Additive. A settled payment to the Stripe deposit address is recorded as a crypto PaymentIntent
-- by the scheduled run: stripe_payment_intent is its id once Stripe took it; stripe_error is the
-- code of a refusal Stripe will not change its mind on (the operator's to look at; the payment
-- itself stands). Both NULL: not recorded yet.
ALTER TABLE machine_payments ADD COLUMN stripe_payment_intent TEXT;
ALTER TABLE machine_payments ADD COLUMN stripe_error TEXT;
