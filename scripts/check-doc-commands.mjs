// `make docs-check`: every Wrangler command in the operator docs exists in the pinned Wrangler with
// the flags used, and every `make` target they name exists and is listed by `make help`. Commands are read from code blocks
// and inline code; `wrangler <command> --help` is asked once per command.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { pathToFileURL } from "node:url";
import { ROOT } from "./wrangler-config.mjs";

const DOCS = ["docs/runbook.md", "docs/deployment.md", "docs/configuration.md", "docs/clients.md", "docs/minimal-server.md",
  "README.md", "SECURITY.md"];
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const run = promisify(execFile);

/** Shell-ish commands in code blocks (backslash continuations joined) and inline code spans. */
export function commandsIn(markdown) {
  const out = [];
  for (const [, lang, body] of markdown.matchAll(/^ *```(\w*)\n([\s\S]*?)^ *```/gm)) {
    if (["", "sh", "bash", "shell"].includes(lang)) out.push(...body.replace(/\s*\\\n\s*/g, " ").split("\n"));
  }
  const prose = markdown.replace(/^ *```[\s\S]*?^ *```/gm, "");
  for (const [, code] of prose.matchAll(/`([^`\n]+)`/g)) out.push(code);
  return out.map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);
}

/** `wrangler …` invocations: the words after `wrangler` up to a comment or shell operator. */
export function wranglerInvocations(line) {
  return [...line.matchAll(/(?:^|[\s(])(?:node_modules\/\.bin\/)?wrangler((?:\s+[^\s&|;)]+)*)/g)].map((m) => tokens(m[1]));
}

function tokens(s) {
  return [...s.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((t) => t[0]);
}

const helpCache = new Map();
async function help(path) {
  const key = path.join(" ");
  if (!helpCache.has(key)) {
    helpCache.set(key, run(WRANGLER, [...path, "--help"], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } })
      .then(({ stdout }) => stdout, (e) => `${e.stdout ?? ""}${e.stderr ?? ""}\nEXIT ${e.code}`));
  }
  return helpCache.get(key);
}

/** The deepest command the tokens name, and the problems with their flags. */
export async function checkInvocation(words) {
  const path = [];
  let i = 0;
  for (; i < words.length; i++) {
    const text = await help(path);
    const sub = words[i];
    if (!/^[a-z][a-z0-9-]*$/.test(sub)) break;
    if (!new RegExp(`^\\s+wrangler ${[...path, sub].join(" ")}(\\s|$)`, "m").test(text)) break;
    path.push(sub);
  }
  if (path.length === 0) return { path, problems: [`unknown wrangler command "${words[0] ?? ""}"`] };
  const text = await help(path);
  const problems = [];
  for (const w of words.slice(i)) {
    const flag = w.match(/^(--?[A-Za-z][\w-]*)/)?.[1];
    if (!flag || /^-\d/.test(w)) continue;
    const known = flag.startsWith("--") ? new RegExp(`(^|[\\s,])${flag}(\\s|,|$)`, "m") : new RegExp(`^\\s+${flag},`, "m");
    if (!known.test(text)) problems.push(`flag ${flag} is not in \`wrangler ${path.join(" ")} --help\``);
  }
  return { path, problems };
}

function makeTargets() {
  const mk = readFileSync(join(ROOT, "Makefile"), "utf8");
  return new Set([...mk.matchAll(/^([a-z][\w-]*):/gm)].map((m) => m[1]));
}

/** The targets `make help` names: its recipe's echo lines. */
export function helpTargets(makefile = readFileSync(join(ROOT, "Makefile"), "utf8")) {
  const recipe = makefile.match(/^help:\n((?:\t.*\n)+)/m)?.[1] ?? "";
  return new Set([...recipe.matchAll(/make ([a-z][\w-]*)/g)].map((m) => m[1]));
}

async function main() {
  const targets = makeTargets();
  const listed = helpTargets();
  let failures = 0;
  let checked = 0;
  const seen = new Set();
  for (const doc of DOCS) {
    const lines = commandsIn(readFileSync(join(ROOT, doc), "utf8"));
    for (const line of lines) {
      for (const words of wranglerInvocations(line)) {
        const key = words.join(" ");
        // "wrangler --help" and "wrangler <command> --help" in prose are not commands.
        if (seen.has(key) || words.length === 0 || /^(<|--help$)/.test(words[0])) continue;
        seen.add(key);
        const { path, problems } = await checkInvocation(words);
        checked++;
        for (const p of problems) {
          console.error(`FAIL ${doc}: wrangler ${key}: ${p}`);
          failures++;
        }
        if (!problems.length) console.log(`PASS wrangler ${path.join(" ")}: ${key}`);
      }
      for (const m of line.matchAll(/(?:^|\s)make (?:-s )?([a-z][\w-]*)/g)) {
        if (seen.has(`make ${m[1]}`)) continue;
        seen.add(`make ${m[1]}`);
        checked++;
        if (!targets.has(m[1])) {
          console.error(`FAIL ${doc}: make ${m[1]}: no such target in the Makefile`);
          failures++;
        } else if (!listed.has(m[1])) {
          console.error(`FAIL ${doc}: make ${m[1]}: not listed by \`make help\``);
          failures++;
        } else console.log(`PASS make ${m[1]}`);
      }
    }
  }
  console.log(`${failures ? "FAILED" : "OK"}: ${checked} commands checked, ${failures} problems`);
  return failures ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exit(await main());
