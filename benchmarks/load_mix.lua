-- A realistic request mix for wrk (used by benchmarks/load.py, which writes the request list).
-- KB_LOAD_REQUESTS: a file of lines "METHOD<TAB>PATH<TAB>BODY" (BODY only for POST, form-encoded);
-- KB_LOAD_EMAIL: the identity header's value (the SSO proxy's, trusted from 127.0.0.1);
-- KB_LOAD_COOKIE: the session cookie that the CSRF token in the POST bodies belongs to.
-- done() prints one line "KB_LOAD_RESULT {json}" with counts, errors and latency percentiles (microseconds).

local threads = {}
local counter = 1
local requests = {}
statuses = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local email = os.getenv("KB_LOAD_EMAIL") or ""
  local cookie = os.getenv("KB_LOAD_COOKIE") or ""
  local get_headers = { ["X-Forwarded-Email"] = email, ["Cookie"] = cookie }
  local post_headers = {
    ["X-Forwarded-Email"] = email, ["Cookie"] = cookie, ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  for line in io.lines(os.getenv("KB_LOAD_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]*)\t?(.*)$")
    if method == "POST" then
      table.insert(requests, wrk.format("POST", path, post_headers, body))
    elseif method then
      table.insert(requests, wrk.format("GET", path, get_headers))
    end
  end
  -- Each thread walks the same shuffled list from its own starting point.
  counter = (id * 7919) % #requests + 1
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(codes) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'KB_LOAD_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
