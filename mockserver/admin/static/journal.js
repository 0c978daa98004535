// @ts-check
/** The live journal: the event stream, the filters, and the table of requests. */

import { errorField } from "./api.js";

/**
 * @typedef {import("./api.js").ErrorItem} ErrorItem
 * @typedef {{time: string, session: string | null, method: string, path: string, query: string,
 *   headers: Record<string, string>, headers_truncated: boolean, body: string | null,
 *   body_truncated: boolean, status: number, duration_ms: number, operation_id: string | null,
 *   errors: ErrorItem[], violation: boolean, answered_by: string | null}} Entry
 * @typedef {{entries: Entry[], arrived: number, backlog: boolean}} Batch
 * @typedef {{session: string, operation: string, status: string, violations: boolean, text: string}} Filters
 */

/** Requests the page keeps (the newest); older ones leave the table. */
export const MAX_ROWS = 500;
/** Shown for a request without X-Mock-Session. */
export const DEFAULT_SESSION = "(default)";

/** Milliseconds before a refused stream (503: too many pages open) is tried again. */
const REOPEN_MS = 3000;

/**
 * Follow the journal: `onBatch` for each message, `onState` when the connection opens or drops.
 * The browser reconnects by itself after a cut (and resumes after the last message); a refused
 * stream it gives up on is opened again here.
 * @param {string} url
 * @param {(batch: Batch) => void} onBatch
 * @param {(state: "live" | "reconnecting") => void} onState
 */
export function follow(url, onBatch, onState) {
  const source = new EventSource(url);
  source.onopen = () => onState("live");
  source.onmessage = (event) => onBatch(JSON.parse(event.data));
  source.onerror = () => {
    onState("reconnecting");
    if (source.readyState === EventSource.CLOSED) setTimeout(() => follow(url, onBatch, onState), REOPEN_MS);
  };
}

/** The violation of an entry as "code · field", or "". @param {Entry} entry */
export function violationOf(entry) {
  if (!entry.violation) return "";
  const item = entry.errors.find((error) => error.code !== "more_errors") || entry.errors[0];
  const field = errorField(item);
  return field ? `${item.code} · ${field}` : item.code;
}

/** "HH:MM:SS.mmm" of an entry's UTC time. @param {Entry} entry */
function clock(entry) {
  return entry.time.slice(11, 23);
}

/** @param {Entry} entry */
function target(entry) {
  return entry.query ? `${entry.path}?${entry.query}` : entry.path;
}

/**
 * Does the entry pass the filters?
 * @param {Entry} entry
 * @param {Filters} filters
 */
export function passes(entry, filters) {
  if (filters.session && (entry.session || DEFAULT_SESSION) !== filters.session) return false;
  if (filters.operation && (entry.operation_id || "(none)") !== filters.operation) return false;
  if (filters.status && String(entry.status)[0] !== filters.status) return false;
  if (filters.violations && !entry.violation) return false;
  if (filters.text) {
    const haystack = [
      entry.method, target(entry), entry.session, entry.operation_id, entry.answered_by, entry.body,
      ...entry.errors.map((error) => `${error.code} ${error.detail}`),
    ].join(" ").toLowerCase();
    if (!haystack.includes(filters.text.toLowerCase())) return false;
  }
  return true;
}

/** The table of requests, newest first, and the counts above it. */
export class JournalView {
  /**
   * @param {HTMLTableSectionElement} body the table's tbody
   * @param {HTMLElement} counts
   * @param {(entry: Entry, row: HTMLTableRowElement) => void} onOpen
   */
  constructor(body, counts, onOpen) {
    this.body = body;
    this.counts = counts;
    this.onOpen = onOpen;
    /** @type {Entry[]} oldest first */
    this.entries = [];
    /** @type {Filters} */
    this.filters = { session: "", operation: "", status: "", violations: false, text: "" };
    this.arrived = 0;
    this.received = 0;
    this.paused = false;
    /** @type {Batch[]} */
    this.held = [];
    /** @type {Set<string>} */
    this.sessions = new Set();
    /** @type {Set<string>} */
    this.operations = new Set();
    /** @type {() => void} */
    this.onNewNames = () => {};
  }

  /** Take a message of the stream (held while paused). @param {Batch} batch */
  add(batch) {
    if (this.paused) {
      this.held.push(batch);
      return;
    }
    if (batch.backlog) {
      this.entries = [];
      this.body.replaceChildren();
    }
    this.arrived += batch.arrived;
    this.received += batch.entries.length;
    const named = this.sessions.size + this.operations.size;
    for (const entry of batch.entries) {
      this.sessions.add(entry.session || DEFAULT_SESSION);
      this.operations.add(entry.operation_id || "(none)");
    }
    if (this.sessions.size + this.operations.size !== named) this.onNewNames();
    this.entries.push(...batch.entries);
    const fragment = document.createDocumentFragment();
    for (const entry of batch.entries) {
      if (passes(entry, this.filters)) fragment.prepend(this.row(entry));
    }
    this.body.prepend(fragment);
    this.trim();
    this.showCounts();
  }

  /** Keep the newest MAX_ROWS entries, and no more rows than that. */
  trim() {
    if (this.entries.length > MAX_ROWS) this.entries.splice(0, this.entries.length - MAX_ROWS);
    while (this.body.rows.length > MAX_ROWS) this.body.lastElementChild?.remove();
  }

  /** Stop or resume following; what came meanwhile is shown on resuming. @param {boolean} paused */
  pause(paused) {
    this.paused = paused;
    if (!paused) this.held.splice(0).forEach((batch) => this.add(batch));
  }

  /** Forget what is shown (not the journal). */
  clear() {
    this.entries = [];
    this.arrived = this.received = 0;
    this.body.replaceChildren();
    this.showCounts();
  }

  /** @param {Filters} filters */
  filter(filters) {
    this.filters = filters;
    const fragment = document.createDocumentFragment();
    for (const entry of this.entries) {
      if (passes(entry, filters)) fragment.prepend(this.row(entry));
    }
    this.body.replaceChildren(fragment);
    this.showCounts();
  }

  showCounts() {
    const shown = this.body.rows.length;
    const sampled = this.arrived > this.received
      ? ` · sampled under load: ${this.received} of ${this.arrived} requests received (violations first)`
      : "";
    const held = this.paused ? ` · paused (${this.held.length} messages waiting)` : "";
    this.counts.textContent = `${shown} shown of ${this.entries.length} kept${sampled}${held}`;
  }

  /** @param {Entry} entry */
  row(entry) {
    const row = document.createElement("tr");
    row.tabIndex = 0;
    if (entry.violation) row.className = "violation";
    else if (entry.status >= 500) row.className = "server-error";
    const cells = [
      clock(entry), entry.session || "", entry.method, target(entry), String(entry.status),
      entry.duration_ms.toFixed(1), entry.operation_id || "", entry.answered_by || "mock", violationOf(entry),
    ];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    if (entry.violation) row.lastElementChild?.setAttribute("title", entry.errors.map((e) => e.detail).join("\n"));
    const open = () => this.onOpen(entry, row);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open();
      }
    });
    return row;
  }
}
