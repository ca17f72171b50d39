-- wrk script for every bench/run.sh measurement.
--
-- Request: by default wrk's own GET of the URL's path. When BENCH_REQUEST_FILE names a file
-- (written by `benchlib.py sign`), the request is taken from it instead:
--   line 1            the method
--   following lines   "Name: value" headers, up to an empty line
--   the rest          the body, byte for byte
-- The file is read once per wrk thread at load time, so every request of the run is the
-- same pre-signed request (a SigV4 signature stays valid for 5 minutes at the gateway).
--
-- Result: done() prints one machine-readable line, parsed by run.sh:
--   BENCH_RESULT rps=.. p50_ms=.. p99_ms=.. requests=.. status=.. connect=.. read=.. write=.. timeout=..
-- `status` is wrk's count of responses with a status >= 400; the socket error counts are
-- wrk's own. Latency percentiles come from wrk's histogram (microseconds, printed as ms).

local request_file = os.getenv("BENCH_REQUEST_FILE")
if request_file ~= nil and request_file ~= "" then
   local f = assert(io.open(request_file, "rb"))
   wrk.method = f:read("*l")
   wrk.headers = {}
   while true do
      local line = f:read("*l")
      if line == nil or line == "" then break end
      local name, value = line:match("^([^:]+):%s?(.*)$")
      assert(name, "bad header line in " .. request_file .. ": " .. line)
      wrk.headers[name] = value
   end
   local body = f:read("*a")
   if body ~= nil and body ~= "" then wrk.body = body end
   f:close()
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1000000
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT rps=%.2f p50_ms=%.3f p99_ms=%.3f requests=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests / seconds,
      latency:percentile(50.0) / 1000,
      latency:percentile(99.0) / 1000,
      summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
