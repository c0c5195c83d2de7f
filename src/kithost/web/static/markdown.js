// A small Markdown renderer for model output that builds DOM nodes and never parses HTML: every
// character of the source ends up in a text node, so markup in the text is shown, not run.
// Paragraphs, headings, emphasis, strikethrough, code spans and fenced blocks, lists, quotes,
// rules, pipe tables, and links (http and https only).

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;
const URL_START = /^https?:\/\/[^\s<>"'`]*[^\s<>"'`.,:;!?)\]}*_~]/i;

/** The href for a link, or null unless it is an absolute http(s) URL. */
export function safeHref(raw) {
  const text = String(raw ?? "").trim();
  if (!/^https?:\/\//i.test(text)) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function element(doc, tag, children = []) {
  const node = doc.createElement(tag);
  for (const child of children) node.append(child);
  return node;
}

function link(doc, href, children) {
  const a = element(doc, "a", children);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/** Find `[…]` starting at `start` (an opening bracket), honouring nesting and escapes. */
function closingBracket(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "`") {
      const run = /^`+/.exec(text.slice(i))[0];
      const end = text.indexOf(run, i + run.length);
      if (end > 0) i = end + run.length - 1;
    } else if (c === "[") depth++;
    else if (c === "]" && --depth === 0) return i;
  }
  return -1;
}

/** Parse `(url "title")` at `start`; returns [url, end index] or null. */
function linkTarget(text, start) {
  if (text[start] !== "(") return null;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) {
      const inner = text.slice(start + 1, i).trim();
      const url = inner.replace(/\s+(["'(]).*$/, "").replace(/^<(.*)>$/, "$1");
      return [url, i + 1];
    } else if (c === "\n") return null;
  }
  return null;
}

function isSpace(c) {
  return c === undefined || /\s/.test(c);
}

function isWordChar(c) {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/** Where the emphasis opened by `marker` at `start` closes, or -1. */
function closingDelimiter(text, start, marker) {
  const from = start + marker.length;
  if (isSpace(text[from])) return -1;
  for (let i = from + 1; i <= text.length - marker.length; i++) {
    const c = text[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "`") {
      const run = /^`+/.exec(text.slice(i))[0];
      const end = text.indexOf(run, i + run.length);
      if (end > 0) i = end + run.length - 1;
      continue;
    }
    if (text.startsWith(marker, i) && !isSpace(text[i - 1])) {
      // `**` must not be read as the end of `*`, and `_` closes only at a word's end.
      if (marker.length === 1 && text[i + 1] === marker) {
        if (text.startsWith(marker.repeat(2), i) && text[i + 2] !== marker) {
          i++;
          continue;
        }
      }
      if (marker[0] === "_" && isWordChar(text[i + marker.length])) continue;
      return i;
    }
  }
  return -1;
}

/** Inline Markdown to DOM nodes. */
export function renderInline(text, doc = document) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(doc.createTextNode(plain));
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    if (c === "\\" && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "\n") {
      flush();
      out.push(doc.createElement("br"));
      i++;
      continue;
    }
    if (c === "`") {
      const run = /^`+/.exec(rest)[0];
      const end = text.indexOf(run, i + run.length);
      if (end > 0 && text[end + run.length] !== "`") {
        let code = text.slice(i + run.length, end).replace(/\n/g, " ");
        if (/^ .* $/.test(code) && code.trim()) code = code.slice(1, -1);
        flush();
        out.push(element(doc, "code", [code]));
        i = end + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    if (c === "[" || (c === "!" && text[i + 1] === "[")) {
      const open = c === "!" ? i + 1 : i;
      const close = closingBracket(text, open);
      const target = close > 0 ? linkTarget(text, close + 1) : null;
      if (target) {
        const label = text.slice(open + 1, close);
        const href = safeHref(target[0]);
        flush();
        if (c === "!") {
          // Images in model text are not loaded (they could track the reader): link to them.
          const words = label || "image";
          out.push(href ? link(doc, href, [words]) : doc.createTextNode(words));
        } else {
          const children = renderInline(label, doc);
          out.push(href ? link(doc, href, children) : element(doc, "span", children));
        }
        i = target[1];
        continue;
      }
    }
    if (c === "<") {
      const auto = /^<(https?:\/\/[^\s<>]+)>/i.exec(rest);
      const href = auto && safeHref(auto[1]);
      if (href) {
        flush();
        out.push(link(doc, href, [auto[1]]));
        i += auto[0].length;
        continue;
      }
    }
    if ((c === "h" || c === "H") && !isWordChar(text[i - 1])) {
      const bare = URL_START.exec(rest);
      const href = bare && safeHref(bare[0]);
      if (href) {
        flush();
        out.push(link(doc, href, [bare[0]]));
        i += bare[0].length;
        continue;
      }
    }
    if (c === "*" || c === "_" || c === "~") {
      const double = text[i + 1] === c;
      if (c === "~" && !double) {
        plain += c;
        i++;
        continue;
      }
      const marker = double ? c + c : c;
      const intraword = c === "_" && isWordChar(text[i - 1]);
      const end = intraword ? -1 : closingDelimiter(text, i, marker);
      if (end > i + marker.length) {
        const tag = c === "~" ? "del" : double ? "strong" : "em";
        flush();
        out.push(element(doc, tag, renderInline(text.slice(i + marker.length, end), doc)));
        i = end + marker.length;
        continue;
      }
      plain += marker;
      i += marker.length;
      continue;
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  const cells = [];
  let cell = "";
  for (let i = 0; i < row.length; i++) {
    if (row[i] === "\\" && row[i + 1] === "|") {
      cell += "|";
      i++;
    } else if (row[i] === "|") {
      cells.push(cell.trim());
      cell = "";
    } else cell += row[i];
  }
  cells.push(cell.trim());
  return cells;
}

function startsBlock(line, next) {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    (line.includes("|") && next !== undefined && TABLE_DIVIDER.test(next) && next.includes("-"))
  );
}

function renderList(lines, start, doc) {
  const first = LIST_ITEM.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const list = doc.createElement(ordered ? "ol" : "ul");
  if (ordered) {
    const number = parseInt(first[2], 10);
    if (number !== 1) list.start = number;
  }
  const baseIndent = first[1].length;
  let i = start;
  let loose = false;
  const items = [];
  while (i < lines.length) {
    const match = LIST_ITEM.exec(lines[i]);
    if (!match || match[1].length !== baseIndent || /\d/.test(match[2]) !== ordered) break;
    const contentIndent = match[1].length + match[2].length + 1;
    const body = [match[3]];
    i++;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) {
        const next = lines[i + 1];
        if (next !== undefined && /^\s+\S/.test(next) && next.search(/\S/) > baseIndent) {
          body.push("");
          loose = true;
          i++;
          continue;
        }
        break;
      }
      const indent = line.search(/\S/);
      const sibling = LIST_ITEM.exec(line);
      if (sibling && sibling[1].length <= baseIndent) break;
      if (indent === 0 && startsBlock(line, lines[i + 1])) break;
      body.push(line.slice(Math.min(indent, contentIndent)));
      i++;
    }
    items.push(body);
    if (i < lines.length && !lines[i].trim()) {
      const next = lines[i + 1];
      const again = next !== undefined && LIST_ITEM.exec(next);
      if (again && again[1].length === baseIndent && /\d/.test(again[2]) === ordered) {
        loose = true;
        i++;
      }
    }
  }
  for (const body of items) {
    const li = doc.createElement("li");
    const blocks = renderBlocks(body, doc);
    if (!loose && blocks.length && blocks[0].tagName === "P") {
      li.append(...blocks[0].childNodes, ...blocks.slice(1));
    } else li.append(...blocks);
    list.append(li);
  }
  return [list, i];
}

function renderTable(lines, start, doc) {
  const header = splitRow(lines[start]);
  const aligns = splitRow(lines[start + 1]).map((cell) =>
    cell.startsWith(":") && cell.endsWith(":")
      ? "center"
      : cell.endsWith(":")
        ? "right"
        : cell.startsWith(":")
          ? "left"
          : "",
  );
  const table = doc.createElement("table");
  const head = element(doc, "thead", [
    element(
      doc,
      "tr",
      header.map((cell, index) => {
        const th = element(doc, "th", renderInline(cell, doc));
        if (aligns[index]) th.style.textAlign = aligns[index];
        return th;
      }),
    ),
  ]);
  const body = doc.createElement("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
    const cells = splitRow(lines[i]);
    const tr = doc.createElement("tr");
    header.forEach((_, index) => {
      const td = element(doc, "td", renderInline(cells[index] ?? "", doc));
      if (aligns[index]) td.style.textAlign = aligns[index];
      tr.append(td);
    });
    body.append(tr);
    i++;
  }
  table.append(head, body);
  const wrapper = element(doc, "div", [table]);
  wrapper.className = "md-table";
  return [wrapper, i];
}

/** Block-level Markdown (an array of lines) to an array of elements. */
function renderBlocks(lines, doc) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const closing = new RegExp(`^ {0,3}${fence[1][0]}{${fence[1].length},}\\s*$`);
      const code = [];
      i++;
      while (i < lines.length && !closing.test(lines[i])) code.push(lines[i++]);
      i++; // the closing fence (or the end of a stream that has not sent it yet)
      const codeEl = element(doc, "code", [code.join("\n")]);
      if (fence[2]) codeEl.dataset.language = fence[2];
      blocks.push(element(doc, "pre", [codeEl]));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(heading[1].length + 2, 6);
      blocks.push(element(doc, `h${level}`, renderInline(heading[2], doc)));
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push(doc.createElement("hr"));
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      blocks.push(element(doc, "blockquote", renderBlocks(quoted, doc)));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const [list, next] = renderList(lines, i, doc);
      blocks.push(list);
      i = next;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1])) {
      if (lines[i + 1].includes("-")) {
        const [table, next] = renderTable(lines, i, doc);
        blocks.push(table);
        i = next;
        continue;
      }
    }
    const paragraph = [line.trim()];
    i++;
    while (i < lines.length && lines[i].trim() && !startsBlock(lines[i], lines[i + 1])) {
      paragraph.push(lines[i++].trim());
    }
    blocks.push(element(doc, "p", renderInline(paragraph.join("\n"), doc)));
  }
  return blocks;
}

/** Render Markdown text into a fragment of safe DOM nodes. */
export function renderMarkdown(text, doc = document) {
  const fragment = doc.createDocumentFragment();
  fragment.append(...renderBlocks(String(text ?? "").split(/\r?\n/), doc));
  return fragment;
}
