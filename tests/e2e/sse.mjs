// Reads a response's event stream: `next(n)` resolves with the next `n` events ({id, data});
// `ended()` resolves true once the stream ends (false if it is still open after `ms`).

export function sseEvents(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finished = false;
  const events = [];
  // One read in flight at a time: a read abandoned at a timeout still takes the next chunk.
  let pending = null;
  async function read(ms) {
    pending ??= reader.read();
    const timeout = Symbol("timeout");
    const got = await Promise.race([pending, new Promise((r) => setTimeout(() => r(timeout), ms))]);
    if (got === timeout) return;
    pending = null;
    const { value, done } = got;
    if (done) finished = true;
    buffer += value ?? "";
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const field = (name) => block.split("\n").find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
      events.push({ id: field("id"), data: field("data") });
    }
  }
  async function next(n, ms = 5000) {
    const deadline = Date.now() + ms;
    while (events.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${events.length} of ${n} events: ${JSON.stringify(events)}`);
      if (finished) throw new Error(`the stream ended after ${events.length} of ${n} events: ${JSON.stringify(events)}`);
      await read(left);
    }
    return events.splice(0, n);
  }
  async function ended(ms = 3000) {
    const deadline = Date.now() + ms;
    while (!finished && Date.now() < deadline) await read(deadline - Date.now());
    return finished;
  }
  return { next, ended, pending: () => events.length };
}
