// JSONC (wrangler.jsonc, package.json): edits that keep comments and layout. Hand-written because
// Wrangler's own reader gives values, not positions, and an edit must not reflow the file.

/**
 * Parses a JSONC text (comments, trailing commas): its value, and the [start, end) offsets of every
 * value in it, keyed by JSON.stringify(path).
 */
export function parseJsonc(text) {
  const spans = new Map();
  let i = 0;
  const fail = (what) => {
    throw new Error(`JSONC: ${what} at offset ${i}`);
  };
  const skip = () => {
    for (;;) {
      if (/\s/.test(text[i] ?? "")) i++;
      else if (text.startsWith("//", i)) i = text.indexOf("\n", i) < 0 ? text.length : text.indexOf("\n", i);
      else if (text.startsWith("/*", i)) {
        const end = text.indexOf("*/", i + 2);
        if (end < 0) fail("unterminated comment");
        i = end + 2;
      } else return;
    }
  };
  const string = () => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (text[i] !== '"') fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (path) => {
    skip();
    const start = i;
    let v;
    if (text[i] === "{") {
      v = {};
      i++;
      for (skip(); text[i] !== "}"; skip()) {
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        skip();
        if (text[i++] !== ":") fail("expected ':'");
        v[key] = value([...path, key]);
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail("expected ',' or '}'");
      }
      i++;
    } else if (text[i] === "[") {
      v = [];
      i++;
      for (skip(); text[i] !== "]"; skip()) {
        v.push(value([...path, v.length]));
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== "]") fail("expected ',' or ']'");
      }
      i++;
    } else if (text[i] === '"') v = string();
    else {
      const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
      if (!m) fail("unexpected character");
      i += m[0].length;
      v = JSON.parse(m[0]);
    }
    spans.set(JSON.stringify(path), { start, end: i });
    return v;
  };
  const parsed = value([]);
  skip();
  if (i < text.length) fail("trailing text");
  return { value: parsed, spans };
}

/** Sets string values by path; returns the new text (paths that do not exist are skipped). */
export function setJsoncStrings(text, edits) {
  const { spans } = parseJsonc(text);
  const found = edits.map(([path, v]) => ({ ...spans.get(JSON.stringify(path)), v })).filter((e) => e.start !== undefined);
  for (const { start, end, v } of found.sort((a, b) => b.start - a.start)) {
    text = text.slice(0, start) + JSON.stringify(v) + text.slice(end);
  }
  return text;
}


/**
 * Adds `key: value` as the first member of the object at `path` (which must exist and have no
 * such key); `indent` is the member's indentation. Returns the new text.
 */
export function insertJsoncMember(text, path, key, value, indent) {
  const { value: root, spans } = parseJsonc(text);
  const target = path.reduce((o, k) => o?.[k], root);
  if (!target || typeof target !== "object" || Array.isArray(target)) throw new Error(`JSONC: no object at ${path.join(".")}`);
  if (key in target) throw new Error(`JSONC: ${path.join(".")} already has ${key}`);
  const at = spans.get(JSON.stringify(path)).start + 1;
  const member = `\n${indent}${JSON.stringify(key)}: ${JSON.stringify(value)}${Object.keys(target).length ? "," : ""}`;
  return text.slice(0, at) + member + text.slice(at);
}

/**
 * Sets `key` to the string `value` in the object at `path`: in place when the key is there, else
 * appended after the object's last member, on a line of its own indented like that member (on the
 * same line when the object is written on one line). Comments and layout elsewhere are kept.
 */
export function setJsoncMember(text, path, key, value) {
  const { value: root, spans } = parseJsonc(text);
  const target = path.reduce((o, k) => o?.[k], root);
  if (!target || typeof target !== "object" || Array.isArray(target)) throw new Error(`JSONC: no object at ${path.join(".")}`);
  if (key in target) return setJsoncStrings(text, [[[...path, key], value]]);
  const object = spans.get(JSON.stringify(path));
  const member = `${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  const keys = Object.keys(target);
  if (keys.length === 0) {
    return `${text.slice(0, object.start)}{ ${member} }${text.slice(object.end)}`;
  }
  const last = spans.get(JSON.stringify([...path, keys.at(-1)]));
  const lineStart = text.lastIndexOf("\n", last.start) + 1;
  const oneLine = lineStart <= object.start;
  const indent = text.slice(lineStart).match(/^[ \t]*/)[0];
  // The rest of the last member's line: an optional comma, then at most a // comment.
  const tail = oneLine ? null : text.slice(last.end).match(/^[ \t]*(,?)[ \t]*(?:\/\/[^\n]*)?(?=\r?\n)/);
  if (!tail) return `${text.slice(0, last.end)},${oneLine ? " " : `\n${indent}`}${member}${text.slice(last.end)}`;
  const comma = tail[1] === ",";
  const lineEnd = last.end + tail[0].length;
  return `${text.slice(0, last.end)}${comma ? "" : ","}${text.slice(last.end, lineEnd)}\n${indent}${member}${comma ? "," : ""}${text.slice(lineEnd)}`;
}
