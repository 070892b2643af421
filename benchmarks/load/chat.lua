-- wrk script: one OpenAI chat completion per request; streamed (SSE) when LOAD_STREAM=1.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("LOAD_STREAM") == "1" and '"stream":true,' or ''
wrk.body = '{"model":"mock-gpt","max_tokens":16,' .. stream
  .. '"messages":[{"role":"user","content":"Summarise the toll road rules in one line please"}]}'
local key = os.getenv("TOLLGATE_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
