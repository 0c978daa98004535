-- wrk script shared by every scenario of bench/run.py.
--
-- The request comes from the environment, so one script serves GETs and the POST:
--   BENCH_METHOD        HTTP method (default GET)
--   BENCH_BODY          request body (none when empty)
--   BENCH_CONTENT_TYPE  Content-Type of the body (default application/json)
--
-- done() prints one machine-readable line, parsed by benchlib/load.py:
--   BENCH_RESULT requests=… duration_us=… bytes=… connect=… read=… write=… status=… timeout=… p50_us=… …
-- errors.status is wrk's "Non-2xx or 3xx responses" counter (every status >= 400).

local method = os.getenv("BENCH_METHOD")
if method ~= nil and method ~= "" then
  wrk.method = method
end

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  local ctype = os.getenv("BENCH_CONTENT_TYPE")
  if ctype == nil or ctype == "" then
    ctype = "application/json"
  end
  wrk.headers["Content-Type"] = ctype
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d "
      .. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
