// @ts-check
/** The detail of one request: the request and the answer as the journal keeps them, and a search of
 * the journal for a pattern built from it, with the near misses when nothing matches. */

import { admin, errorField, errorLines } from "./api.js";
import { violationOf } from "./journal.js";

/** @typedef {import("./journal.js").Entry} Entry */

/** Fields of an entry shown in their own places; any other (added later) is shown as it is. */
const KNOWN = new Set([
  "time", "session", "method", "path", "query", "headers", "headers_truncated", "body", "body_truncated",
  "status", "duration_ms", "operation_id", "errors", "violation", "answered_by",
]);

/**
 * Create an element with text.
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 */
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A body as kept, pretty when it is JSON. @param {string} text */
function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** @param {[string, string][]} pairs */
function definitions(pairs) {
  const list = el("dl", undefined, "pairs");
  for (const [name, value] of pairs) list.append(el("dt", name), el("dd", value));
  return list;
}

/**
 * The query string as a pattern's `query`: a name given once is a string, repeated a list.
 * @param {string} query
 * @returns {Record<string, string | string[]>}
 */
export function queryPattern(query) {
  /** @type {Record<string, string | string[]>} */
  const pattern = {};
  for (const [name, value] of new URLSearchParams(query)) {
    const seen = pattern[name];
    pattern[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return pattern;
}

/** The pattern a search starts from: the request's method, path and query. @param {Entry} entry */
export function patternOf(entry) {
  /** @type {Record<string, unknown>} */
  const pattern = { method: entry.method, path: entry.path };
  if (entry.query) pattern.query = queryPattern(entry.query);
  return pattern;
}

/**
 * Show one request in the panel.
 * @param {HTMLElement} panel
 * @param {Entry} entry
 */
export function showDetail(panel, entry) {
  const title = el("h2", `${entry.method} ${entry.path}`);
  title.tabIndex = -1;
  const summary = definitions([
    ["Time (UTC)", entry.time.replace("T", " ").replace("Z", "")],
    ["Session", entry.session || "(default)"],
    ["Query", entry.query || "(none)"],
    ["Status", String(entry.status)],
    ["Duration", `${entry.duration_ms} ms`],
    ["Operation", entry.operation_id || "(none: no operation is served at this path)"],
    ["Answered by", entry.answered_by || "the mock"],
  ]);
  panel.replaceChildren(title, summary);
  if (entry.errors.length) panel.append(errorsSection(entry));
  panel.append(el("h3", "Request headers" + (entry.headers_truncated ? " (cut when kept)" : "")));
  panel.append(definitions(Object.entries(entry.headers)));
  panel.append(el("h3", "Request body" + (entry.body_truncated ? " (first 4,096 bytes)" : "")));
  panel.append(el("pre", entry.body === null ? "(none)" : pretty(entry.body), "body"));
  const extra = Object.entries(entry).filter(([key]) => !KNOWN.has(key));
  if (extra.length) {
    panel.append(el("h3", "Answer as kept"));
    panel.append(el("pre", JSON.stringify(Object.fromEntries(extra), null, 2), "body"));
  }
  panel.append(searchSection(entry));
  title.focus();
}

/** @param {Entry} entry */
function errorsSection(entry) {
  const section = el("section", undefined, entry.violation ? "violation-box" : "errors-box");
  const heading = entry.violation ? `Off contract: ${violationOf(entry)}` : "Errors in the answer";
  section.append(el("h3", heading));
  const list = el("ul", undefined, "errors");
  for (const item of entry.errors) {
    const line = el("li");
    const field = errorField(item);
    if (field) line.append(el("strong", field), document.createTextNode(": "));
    line.append(document.createTextNode(`${item.code}: ${item.detail}`));
    list.append(line);
  }
  section.append(list);
  return section;
}

/** @param {Entry} entry */
function searchSection(entry) {
  const form = el("form", undefined, "stack");
  const label = el("label", "Pattern to find in the journal (POST /__admin/requests/find)");
  const input = /** @type {HTMLTextAreaElement} */ (el("textarea"));
  input.rows = 6;
  input.spellcheck = false;
  input.value = JSON.stringify(patternOf(entry), null, 2);
  label.append(input);
  const button = el("button", "Find");
  const results = el("div", undefined, "results");
  results.setAttribute("aria-live", "polite");
  form.append(el("h3", "Find, with near misses"), label, button, results);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    results.replaceChildren(el("p", "Searching…"));
    try {
      const found = await admin("POST", "/__admin/requests/find", {
        session: entry.session || undefined,
        json: JSON.parse(input.value),
      });
      results.replaceChildren(...findResults(found));
    } catch (error) {
      const list = el("ul", undefined, "errors");
      list.append(...errorLines(error).map((line) => el("li", line)));
      results.replaceChildren(list);
    }
  });
  return form;
}

/**
 * @param {{requests: Entry[], near_misses: {distance: number, request: Entry,
 *   differences: {field: string, expected: unknown, actual: unknown}[]}[]}} found
 */
function findResults(found) {
  if (found.requests.length) return [el("p", `${found.requests.length} request(s) match.`)];
  if (!found.near_misses.length) return [el("p", "Nothing matches, and the journal holds nothing near.")];
  const nodes = [el("p", "Nothing matches. Nearest misses:")];
  for (const miss of found.near_misses) {
    const box = el("div", undefined, "miss");
    const request = miss.request;
    box.append(el("p", `${request.method} ${request.path}${request.query ? "?" + request.query : ""} → ` +
      `${request.status} (distance ${miss.distance.toFixed(2)})`));
    const table = el("table", undefined, "differences");
    const head = el("tr");
    head.append(el("th", "Field"), el("th", "Expected"), el("th", "Actual"));
    table.append(head);
    for (const difference of miss.differences) {
      const row = el("tr");
      row.append(el("td", difference.field), el("td", JSON.stringify(difference.expected)),
        el("td", JSON.stringify(difference.actual)));
      table.append(row);
    }
    box.append(table);
    nodes.push(box);
  }
  return nodes;
}
