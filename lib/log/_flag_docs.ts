/**
 * Reads an entry point's own source for its `--help`: the header comment, the `Command:` example
 * and the JSDoc above each key of its defaults object, so that the comments a reader of the code
 * sees are the one source of each flag's meaning and accepted values.
 *
 * @module
 */

/** What a flag accepts, from its `@accepts` tag (`integer ≥ 1`, `fashion | shapes`). */
export interface Accepts {
  /** The tag's text, as the help and errors print it. */
  text: string;
  /** Numbers: whole numbers only. */
  integer?: boolean;
  /** Numbers: bounds, each with whether it is included. */
  min?: { value: number; inclusive: boolean };
  max?: { value: number; inclusive: boolean };
  /** Strings: the allowed values. */
  choices?: string[];
}

/** One key's JSDoc: its first sentence and what it accepts. */
export interface FlagDoc {
  meaning: string;
  accepts?: Accepts;
}

/** An entry point's documentation, as read from its source. */
export interface ModuleDocs {
  /** The first sentence of the module's header comment. */
  question: string;
  /** The first `Command: \`...\`` of the header, if any. */
  example?: string;
  /** Per key of the defaults literal found: its JSDoc (keys without one are absent). */
  flags: Map<string, FlagDoc>;
  /** Whether an object literal holding every key of the defaults was found. */
  found: boolean;
}

/**
 * Parses an `@accepts` tag: `integer`, `number`, either followed by bounds (`≥ 1`, `> 0 ≤ 1`),
 * or choices separated by `|`.
 */
export function parseAccepts(text: string): Accepts {
  const m = /^(integer|number)\b(.*)$/.exec(text.trim());
  if (!m) return { text, choices: text.split("|").map((s) => s.trim().replace(/^"|"$/g, "")) };
  const out: Accepts = { text: text.trim(), integer: m[1] === "integer" };
  for (const [, op, num] of m[2].matchAll(/(≥|>|≤|<|>=|<=)\s*(-?[\d.e+-]+)/g)) {
    const bound = { value: Number(num), inclusive: op === "≥" || op === "≤" || op.endsWith("=") };
    if (op.startsWith(">") || op === "≥") out.min = bound;
    else out.max = bound;
  }
  return out;
}

/** The text of a JSDoc comment (`/** ... *\/`) without its delimiters and leading stars. */
function commentText(comment: string): string {
  return comment.replace(/^\/\*\*/, "").replace(/\*\/$/, "").split("\n")
    .map((line) => line.replace(/^\s*\*\s?/, "").trim()).join(" ").replace(/\s+/g, " ").trim();
}

/** The first sentence of a text: up to a `.`, `?` or `!` followed by a capital or the end. */
export function firstSentence(text: string): string {
  const m = /^(.*?[.?!])(?=\s+[A-Z(`"]|\s*$)/.exec(text);
  return (m ? m[1] : text).trim();
}

function flagDoc(comment: string): FlagDoc {
  const text = commentText(comment);
  const at = text.search(/(^|\s)@accepts\s/);
  const body = at < 0 ? text : text.slice(0, at);
  const tag = at < 0 ? undefined : text.slice(at).replace(/^\s*@accepts\s+/, "").split(/\s@\w/)[0];
  return { meaning: firstSentence(body), accepts: tag ? parseAccepts(tag) : undefined };
}

/**
 * The keys of the object literal opening at `source[open]` (`{`), each with the JSDoc comment just
 * above it (or undefined). Strings, templates, comments and nested brackets are skipped; spreads
 * and shorthand properties are not keys; `...NAME` spreads are listed.
 */
function scanObject(
  source: string,
  open: number,
): { keys: Map<string, string | undefined>; spreads: string[] } {
  const keys = new Map<string, string | undefined>();
  const spreads: string[] = [];
  let depth = 0;
  let expectKey = false;
  let doc: string | undefined;
  let i = open;
  while (i < source.length) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2) + 2;
      if (depth === 1 && expectKey && source[i + 2] === "*") doc = source.slice(i, end);
      i = end;
      continue;
    }
    if (c === "/" && source[i + 1] === "/") {
      i = source.indexOf("\n", i);
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const after = /^\s*:/.exec(source.slice(j + 1));
        if (after) keys.set(source.slice(i + 1, j), doc);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if ("{[(".includes(c)) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if ("}])".includes(c)) {
      depth--;
      if (depth === 0) return { keys, spreads };
    } else if (depth === 1 && expectKey && source.startsWith("...", i)) {
      const m = /^\.\.\.([\w$]+)\s*(?=[,}])/.exec(source.slice(i));
      if (m) spreads.push(m[1]);
      expectKey = false;
      i += m ? m[0].length : 3;
      continue;
    } else if (c === "," && depth === 1) {
      expectKey = true;
      doc = undefined;
    } else if (depth === 1 && expectKey && /[A-Za-z_$]/.test(c)) {
      const m = /^[\w$]+(?=\s*:)/.exec(source.slice(i));
      if (m) keys.set(m[0], doc);
      expectKey = false;
      i += m ? m[0].length : 1;
      continue;
    } else if (!/\s/.test(c)) {
      expectKey = false;
    }
    i++;
  }
  return { keys, spreads };
}

/** Keys and their JSDoc of each `const NAME = { ... }` literal of a source, spreads resolved. */
type Literal = Map<string, string | undefined>;

/**
 * The literals of a source, by name, with `...NAME` spreads filled in from the same source or from
 * the module a relative import names (read with `load`).
 */
function literals(source: string, load: (specifier: string) => string | undefined, depth = 0) {
  const raw = new Map<string, { keys: Literal; spreads: string[] }>();
  for (const m of source.matchAll(/\b(?:const|let)\s+([\w$]+)(?:\s*:[^=;]+)?\s*=\s*\{/g)) {
    raw.set(m[1], scanObject(source, m.index + m[0].length - 1));
  }
  const resolved = new Map<string, Literal>();
  const resolve = (name: string, seen: Set<string>): Literal => {
    if (resolved.has(name)) return resolved.get(name)!;
    const own = raw.get(name);
    const out: Literal = new Map();
    if (own === undefined) {
      // An imported literal: `import { NAME } from "./x.ts"` (one level of modules is enough).
      const from = new RegExp(`import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}\\s*from\\s*"([^"]+)"`)
        .exec(source)?.[1];
      const text = from !== undefined && depth < 2 ? load(from) : undefined;
      return text === undefined ? out : literals(text, load, depth + 1).get(name) ?? out;
    }
    for (const spread of own.spreads) {
      if (seen.has(spread)) continue;
      for (const [k, d] of resolve(spread, new Set([...seen, spread]))) out.set(k, d);
    }
    for (const [k, d] of own.keys) out.set(k, d);
    resolved.set(name, out);
    return out;
  };
  for (const name of raw.keys()) resolve(name, new Set([name]));
  return resolved;
}

/**
 * Reads the docs of the flags `keys` from a module's source: its header, and the JSDoc of the
 * `const NAME = { ... }` literal whose keys are exactly `keys` (else the smallest one holding them;
 * spreads of literals of the same module or of a relatively imported one count).
 *
 * @param source The module's source text.
 * @param keys The defaults' keys.
 * @param load Reads an imported module's source by its specifier (undefined: not readable).
 * @returns The module's documentation.
 */
export function readModuleDocs(
  source: string,
  keys: string[],
  load: (specifier: string) => string | undefined = () => undefined,
): ModuleDocs {
  const header = /^\s*(?:#![^\n]*\n\s*)?(\/\*\*[\s\S]*?\*\/)/.exec(source)?.[1];
  const headerText = header ? commentText(header) : "";
  const paragraph = header
    ? commentText(header.split(/\n\s*\*\s*\n/)[0] + (header.includes("\n") ? "*/" : ""))
    : "";
  const example = /Command:\s*`([^`]+)`/.exec(headerText)?.[1];
  let best: Literal | undefined;
  for (const found of literals(source, load).values()) {
    if (!keys.every((k) => found.has(k))) continue;
    if (best === undefined || found.size < best.size) best = found;
  }
  const flags = new Map<string, FlagDoc>();
  for (const [key, comment] of best ?? []) if (comment) flags.set(key, flagDoc(comment));
  return { question: firstSentence(paragraph), example, flags, found: best !== undefined };
}
