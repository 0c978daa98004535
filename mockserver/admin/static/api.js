// @ts-check
/** Calls of the admin API, and the JSON:API errors it answers with. */

/**
 * @typedef {{pointer?: string, parameter?: string, header?: string}} ErrorSource
 * @typedef {{status: string, code: string, title: string, detail: string, source?: ErrorSource}} ErrorItem
 */

export class AdminError extends Error {
  /**
   * @param {number} status
   * @param {ErrorItem[]} items
   */
  constructor(status, items) {
    super(items.map(describeError).join("; ") || `HTTP ${status}`);
    this.status = status;
    this.items = items;
  }
}

/**
 * One error object as a line: the detail, and the field at fault when it names one.
 * @param {ErrorItem} item
 * @returns {string}
 */
export function describeError(item) {
  const field = errorField(item);
  return field && !item.detail.includes(field) ? `${item.detail} (${field})` : item.detail;
}

/**
 * The parameter, body field or header an error names: "parameter page", "body /data/type"…
 * @param {ErrorItem} item
 * @returns {string}
 */
export function errorField(item) {
  const source = item.source || {};
  if (source.parameter !== undefined) return `parameter ${source.parameter}`;
  if (source.pointer !== undefined) return `body ${source.pointer || "/"}`;
  if (source.header !== undefined) return `header ${source.header}`;
  return "";
}

/**
 * Call the admin API, in a session (`X-Mock-Session`) or the default one.
 * @param {string} method
 * @param {string} path
 * @param {{session?: string, json?: unknown, text?: string}} [options]
 * @returns {Promise<any>} the JSON answer, or null for a 204
 * @throws {AdminError}
 */
export async function admin(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (options.session) headers["X-Mock-Session"] = options.session;
  /** @type {string | undefined} */
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const answer = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const items = answer && Array.isArray(answer.errors) ? answer.errors : [];
    throw new AdminError(response.status, items);
  }
  return answer;
}

/**
 * The error lines of a failed call, for a list on the page.
 * @param {unknown} error
 * @returns {string[]}
 */
export function errorLines(error) {
  if (error instanceof AdminError && error.items.length) return error.items.map(describeError);
  return [String(error instanceof Error ? error.message : error)];
}
