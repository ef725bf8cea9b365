// Test-only Worker entry (never deployed): the fixtures build, with the MKIT_STATS binding
// replaced by a recorder shaped like the runtime's Analytics Engine dataset (an object with
// writeDataPoint, as Miniflare defines it), so tests can read every data point the Rust code
// wrote. GET /__test/stats-points returns and clears them.

import { WorkerEntrypoint } from "cloudflare:workers";
import Mkit from "../../build-fixtures/index.js";

// The Durable Object classes the wrangler.jsonc bindings name.
export { McpCounters, McpSessions, McpTasks } from "../../build-fixtures/index.js";

const points = [];
const recorder = { writeDataPoint: (p) => { points.push(JSON.parse(JSON.stringify(p))); } };

export default class extends WorkerEntrypoint {
  fetch(request) {
    if (new URL(request.url).pathname === "/__test/stats-points") return Response.json(points.splice(0));
    return new Mkit(this.ctx, { ...this.env, MKIT_STATS: recorder }).fetch(request);
  }
}
