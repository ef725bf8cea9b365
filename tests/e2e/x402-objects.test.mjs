// Machine payments (x402) with MKIT_COUNTERS bound (issue #30): each payer's claims and outcomes
// live in their own Durable Object, and reach D1 after the response. Every case of
// tests/e2e/x402.test.mjs runs again here, on a worker configured as docs/deployment.md shows;
// tests/e2e/round-trips.test.mjs shows that such a call writes nothing to D1 on its path.

process.env.MKIT_E2E_X402_OBJECTS = "1";
await import("./x402.test.mjs");
