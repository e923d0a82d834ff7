-- One fixed request for wrk, described by the environment (bench/bench.py
-- sets these):
--   WRK_METHOD   GET (default) or POST
--   WRK_BODY     request body (POST)
--   WRK_HEADERS  "Name: value" lines separated by newlines
-- No request()/response() functions: wrk then builds the request once and
-- never enters Lua on the hot path. done() prints one machine-readable line.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local k, v = string.match(line, "^([^:]+):%s*(.*)$")
  if k then
    wrk.headers[k] = v
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
