-- Paces wrk (Debian's wrk 4 has no fixed-rate flag) and prints the result as one JSON line.
-- Each connection waits CONNECTIONS*1000/RATE ms after each response, so the whole run offers
-- about RATE requests per second; the report gives the rate actually achieved.
local rate = tonumber(os.getenv("RATE") or "500")
local conns = tonumber(os.getenv("CONNECTIONS") or "10")
local pause = conns * 1000 / rate

-- The status route needs a signed-in session; status.sh passes its cookie.
local cookie = os.getenv("COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

function delay()
  return pause
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
