-- wrk script: one OpenAI chat completion per request, as the official SDKs send it.
-- LOAD_KIND=sse asks for a stream ("stream":true, Accept: text/event-stream, no stream_options:
-- tollgate adds include_usage upstream and hides the usage chunk); anything else is a plain JSON
-- call. The Accept header is what the fixed-answer nginx upstream picks its reply by.
-- LOAD_KEY is the tollgate key (sent to nginx too, where it is simply forwarded).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local sse = os.getenv("LOAD_KIND") == "sse"
wrk.headers["Accept"] = sse and "text/event-stream" or "application/json"
wrk.body = '{"model":"' .. (os.getenv("LOAD_MODEL") or "gpt-4.1-nano") .. '",'
  .. (sse and '"stream":true,' or '')
  .. '"messages":[{"role":"user","content":"Invent a new holiday and describe its traditions."}]}'
local key = os.getenv("LOAD_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

-- One machine-readable line; latencies in ms, errors are wrk's socket errors, non2xx its status errors.
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d secs=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
