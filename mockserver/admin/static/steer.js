// @ts-check
/** Steering: the sessions (and their reset), a session's rules, its data set, and its records to copy. */

import { admin, errorLines } from "./api.js";
import { el, queryPattern } from "./detail.js";

/** Seconds between two reads of the rules' hit counts while their panel is shown. */
const RULES_REFRESH_MS = 2000;

/**
 * @param {string} id
 * @returns {any}
 */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page lacks #${id}`);
  return node;
}

/**
 * Fill a list with lines (errors), or empty it.
 * @param {HTMLElement} list
 * @param {string[]} lines
 */
function showLines(list, lines) {
  list.replaceChildren(...lines.map((line) => el("li", line)));
}

/** Copy text, with a fallback where the clipboard API is not offered. @param {string} text */
async function copy(text) {
  if (navigator.clipboard) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

/** @param {string} text @param {string} what */
function copyButton(text, what) {
  const button = el("button", "Copy");
  button.setAttribute("aria-label", `Copy ${what}`);
  button.addEventListener("click", async () => {
    await copy(text);
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
  return button;
}

export class Steering {
  /** @param {{scenarios: string[]}} config */
  constructor(config) {
    /** @type {HTMLSelectElement} */
    this.sessionSelect = byId("steer-session");
    this.status = byId("steer-status");
    this.dataStatus = byId("data-status");
    this.dataErrors = byId("data-errors");
    this.ruleErrors = byId("rule-errors");
    /** @type {HTMLTableSectionElement} */
    this.rulesBody = byId("rules").tBodies[0];
    /** @type {Set<string>} sessions seen in the journal */
    this.seen = new Set();
    /** @type {() => void} */
    this.onDataChange = () => {};
    const named = byId("switch-named").elements.namedItem("name");
    for (const name of config.scenarios) named.append(new Option(name, name));
    this.wire();
  }

  /** The chosen session: "" for the default one. */
  get session() {
    return this.sessionSelect.value;
  }

  wire() {
    byId("sessions-refresh").addEventListener("click", () => this.loadSessions());
    byId("session-reset").addEventListener("click", () => this.reset());
    this.sessionSelect.addEventListener("change", () => this.refresh());
    byId("rule-form").addEventListener("submit", (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      this.addRule(/** @type {HTMLFormElement} */ (event.target));
    });
    /** @type {[string, (form: HTMLFormElement) => unknown][]} */
    const switches = [
      ["switch-named", (form) => ({ name: field(form, "name") })],
      ["switch-faker", (form) => ({ seed: Number(field(form, "seed")), partners: Number(field(form, "partners")) })],
      ["switch-inline", (form) => ({ inline: field(form, "inline") })],
    ];
    for (const [id, body] of switches) {
      byId(id).addEventListener("submit", (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        this.switchData(body(/** @type {HTMLFormElement} */ (event.target)));
      });
    }
    byId("pact-download").addEventListener("click", () => this.downloadPact());
    setInterval(() => {
      if (!byId("panel-steer").hidden && document.visibilityState === "visible") this.loadRules();
    }, RULES_REFRESH_MS);
  }

  async start() {
    await Promise.all([this.loadSessions(), this.loadOperations(), this.detectPact()]);
  }

  /** Reload what depends on the chosen session. */
  refresh() {
    byId("data-session").textContent = this.session || "(default)";
    this.loadRules();
    this.loadData();
  }

  /** Sessions seen in the journal are offered too (a session lives from its first request). @param {Iterable<string>} names */
  addSeen(names) {
    for (const name of names) if (name !== "(default)") this.seen.add(name);
    this.fillSessions([]);
  }

  async loadSessions() {
    try {
      const answer = await admin("GET", "/__admin/sessions");
      this.fillSessions(answer.sessions);
    } catch (error) {
      this.status.textContent = errorLines(error).join("; ");
    }
    this.refresh();
  }

  /** @param {string[]} live */
  fillSessions(live) {
    const chosen = this.session;
    const names = new Set([...live, ...this.seen, ...(chosen ? [chosen] : [])]);
    const options = [new Option("(default)", ""), ...[...names].sort().map((name) => new Option(name, name))];
    this.sessionSelect.replaceChildren(...options);
    this.sessionSelect.value = chosen;
  }

  async reset() {
    try {
      await admin("POST", "/__admin/reset", { session: this.session });
      this.status.textContent = `Session ${this.session || "(default)"} reset: links as loaded, no click events, its journal emptied, its added rules gone.`;
    } catch (error) {
      this.status.textContent = errorLines(error).join("; ");
    }
    this.refresh();
  }

  async loadOperations() {
    /** @type {HTMLSelectElement} */
    const select = byId("rule-form").elements.namedItem("operation_id");
    try {
      const spec = await (await fetch("/openapi.json")).json();
      /** @type {string[]} */
      const ids = [];
      for (const item of Object.values(spec.paths || {})) {
        for (const operation of Object.values(item)) if (operation && operation.operationId) ids.push(operation.operationId);
      }
      select.replaceChildren(...ids.sort().map((id) => new Option(id, id)));
    } catch (error) {
      showLines(this.ruleErrors, [`Cannot read the operations from /openapi.json: ${error}`]);
    }
  }

  async loadRules() {
    try {
      const answer = await admin("GET", "/__admin/rules", { session: this.session });
      this.showRules(answer.rules);
    } catch (error) {
      this.status.textContent = errorLines(error).join("; ");
    }
  }

  /** @param {{id: string, match: object, origin: string, hits: number, respond?: {status?: number}, sequence?: object[]}[]} rules */
  showRules(rules) {
    const rows = rules.map((rule) => {
      const row = el("tr");
      const answer = rule.respond ? `respond ${rule.respond.status ?? ""}` : `sequence of ${rule.sequence?.length}`;
      row.append(el("td", `${rule.id} (${rule.origin})`), el("td", JSON.stringify(rule.match), "code"),
        el("td", answer), el("td", String(rule.hits)));
      const remove = el("button", "Remove");
      remove.setAttribute("aria-label", `Remove rule ${rule.id}`);
      remove.addEventListener("click", () => this.removeRule(rule.id));
      const cell = el("td");
      cell.append(remove);
      row.append(cell);
      return row;
    });
    if (!rows.length) {
      const row = el("tr");
      const cell = el("td", "No rules in this session.");
      cell.setAttribute("colspan", "5");
      row.append(cell);
      rows.push(row);
    }
    this.rulesBody.replaceChildren(...rows);
  }

  /** @param {string} id */
  async removeRule(id) {
    try {
      await admin("DELETE", `/__admin/rules/${encodeURIComponent(id)}`, { session: this.session });
      this.status.textContent = `Rule ${id} removed.`;
    } catch (error) {
      this.status.textContent = errorLines(error).join("; ");
    }
    this.loadRules();
  }

  /** The rule the form describes, as `POST /__admin/rules` takes it. @param {HTMLFormElement} form */
  ruleOf(form) {
    /** @type {Record<string, unknown>} */
    const match = { operation_id: field(form, "operation_id") };
    if (field(form, "query")) match.query = queryPattern(field(form, "query"));
    /** @type {Record<string, unknown>} */
    const respond = { status: Number(field(form, "status")) };
    if (field(form, "body").trim()) respond.body = JSON.parse(field(form, "body"));
    /** @type {Record<string, unknown>} */
    const rule = { match, respond };
    if (field(form, "times")) rule.times = Number(field(form, "times"));
    if (/** @type {HTMLInputElement} */ (form.elements.namedItem("contract_violation")).checked) {
      rule.contract_violation = true;
    }
    return rule;
  }

  /** @param {HTMLFormElement} form */
  async addRule(form) {
    showLines(this.ruleErrors, []);
    try {
      const answer = await admin("POST", "/__admin/rules", { session: this.session, json: this.ruleOf(form) });
      this.status.textContent = `Rule ${answer.rule.id} added to session ${this.session || "(default)"}.`;
      this.loadRules();
    } catch (error) {
      showLines(this.ruleErrors, errorLines(error));
    }
  }

  async loadData() {
    try {
      const data = await admin("GET", "/__admin/data", { session: this.session });
      byId("data-source").textContent = `${data.source} (${data.partners} partners)`;
      byId("dataset").textContent = `Serving ${data.source}`;
      const businesses = data.businesses.map((/** @type {{id: string, name: string}} */ b) => {
        const row = el("tr");
        const id = el("td", b.id, "code");
        id.append(" ", copyButton(b.id, `the id of ${b.name}`));
        row.append(el("td", b.name), id);
        return row;
      });
      const users = data.users.map((/** @type {{name: string, business: string, token: string, default: boolean}} */ u) => {
        const row = el("tr");
        const token = el("td", u.token, "code");
        token.append(" ", copyButton(u.token, `the token of ${u.name}`));
        row.append(el("td", u.default ? `${u.name} (default user)` : u.name), el("td", u.business, "code"), token);
        return row;
      });
      byId("businesses").tBodies[0].replaceChildren(...businesses);
      byId("users").tBodies[0].replaceChildren(...users);
    } catch (error) {
      showLines(this.dataErrors, errorLines(error));
    }
  }

  /** @param {unknown} body */
  async switchData(body) {
    showLines(this.dataErrors, []);
    this.dataStatus.textContent = "Switching…";
    try {
      const answer = await admin("PUT", "/__admin/scenario", { session: this.session, json: body });
      const s = answer.scenario;
      this.dataStatus.textContent = `Session ${s.session || "(default)"} now serves ${s.source}: ` +
        `${s.partners} partners, ${s.businesses} businesses, ${s.users} users.`;
      this.refresh();
      this.onDataChange();
    } catch (error) {
      this.dataStatus.textContent = "The data set stays as it was:";
      showLines(this.dataErrors, errorLines(error));
    }
  }

  /** Offer the Pact download when the admin contract declares `GET /__admin/pact`. */
  async detectPact() {
    try {
      const document = await (await fetch("/__admin/openapi.yaml")).text();
      byId("pact").hidden = !/^ {2}\/__admin\/pact:/m.test(document);
    } catch {
      byId("pact").hidden = true;
    }
  }

  async downloadPact() {
    try {
      const pact = await admin("GET", "/__admin/pact", { session: this.session });
      const text = typeof pact === "string" ? pact : JSON.stringify(pact, null, 2);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      link.download = `pact-${this.session || "default"}.json`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      showLines(this.dataErrors, errorLines(error));
    }
  }
}

/**
 * A form field's value.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {string}
 */
function field(form, name) {
  const input = /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name));
  return input ? input.value : "";
}
