// @ts-check
/** The inspector page: follows the journal and wires the filters, the tabs and the panels. */

import { showDetail } from "./detail.js";
import { follow, JournalView } from "./journal.js";
import { Steering } from "./steer.js";

/** @typedef {{scenarios: string[], journal_size: number, sample: number, tick_ms: number, events: string}} Config */

/** @type {Config} */
const config = JSON.parse(document.getElementById("config")?.textContent || "{}");

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page lacks #${id}`);
  return node;
}

/** Tabs: click, or the arrow keys on the focused tab (the WAI-ARIA tabs pattern). */
function wireTabs() {
  const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('[role="tab"]')]);
  /** @param {HTMLButtonElement} chosen */
  const choose = (chosen) => {
    for (const tab of tabs) {
      const selected = tab === chosen;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      byId(tab.getAttribute("aria-controls") || "").hidden = !selected;
    }
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => choose(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      choose(next);
      next.focus();
    });
  });
  return choose;
}

function main() {
  const chooseTab = wireTabs();
  const detailPanel = byId("panel-detail");
  /** @type {HTMLTableRowElement | null} */
  let openRow = null;
  const view = new JournalView(
    /** @type {HTMLTableElement} */ (byId("journal")).tBodies[0],
    byId("counts"),
    (entry, row) => {
      openRow?.removeAttribute("aria-current");
      openRow = row;
      row.setAttribute("aria-current", "true");
      chooseTab(/** @type {HTMLButtonElement} */ (byId("tab-detail")));
      showDetail(detailPanel, entry);
    },
  );
  detailPanel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && openRow?.isConnected) openRow.focus();
  });

  const steering = new Steering(config);
  const filters = /** @type {HTMLFormElement} */ (byId("filters"));
  /** @param {string} name @param {Iterable<string>} values */
  const offer = (name, values) => {
    const select = /** @type {HTMLSelectElement} */ (filters.elements.namedItem(name));
    const chosen = select.value;
    select.replaceChildren(new Option("any", ""), ...[...values].sort().map((v) => new Option(v, v)));
    select.value = chosen;
  };
  view.onNewNames = () => {
    offer("session", view.sessions);
    offer("operation", view.operations);
    steering.addSeen(view.sessions);
  };
  const readFilters = () => {
    const data = new FormData(filters);
    view.filter({
      session: String(data.get("session") || ""),
      operation: String(data.get("operation") || ""),
      status: String(data.get("status") || ""),
      violations: data.get("violations") === "on",
      text: String(data.get("text") || "").trim(),
    });
  };
  filters.addEventListener("input", readFilters);
  filters.addEventListener("submit", (event) => event.preventDefault());
  const pause = byId("pause");
  pause.addEventListener("click", () => {
    const paused = pause.getAttribute("aria-pressed") !== "true";
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    view.pause(paused);
    view.showCounts();
  });
  byId("clear-view").addEventListener("click", () => view.clear());

  const connection = byId("connection");
  follow(config.events, (batch) => view.add(batch), (state) => {
    connection.textContent = state === "live"
      ? `Live: the journal as it grows (newest ${config.journal_size} kept by the server; ` +
        `at most ${config.sample} requests every ${config.tick_ms} ms are sent, violations first)`
      : "Reconnecting to the journal…";
    connection.className = `connection ${state}`;
  });
  steering.start();
}

main();
