// The no-op baseline: the least a worker can do. mKit's figures are reported as ratios to it.
export default {
  async fetch() {
    return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
  },
};
