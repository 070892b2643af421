#!/usr/bin/env python3
"""Helpers of benchmarks/load/run.sh (standard library only).

  bodies FIXTURES OUT_DIR   the fixed OpenAI answers the upstream nginx serves, from the recorded
                            fixtures: OUT_DIR/bodies.conf (nginx maps) plus the raw bodies
  table RESULTS             the markdown table of a load run's result lines
  streams ...               N concurrent streamed calls, each read to its end; prints one JSON line
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

# ------------------------------------------------------------------------------------- bodies

CONTENT_EVENTS = 16
# nginx reads a config token into a 4 KiB buffer, so a body is cut into pieces of at most this
# many bytes (after escaping), each the constant value of a map, joined again by "return".
PIECE = 3000


def sse_body(fixtures):
    """A chat completion stream as OpenAI sends it with include_usage (tollgate asks for it): the
    role event, 16 content events and the finish event of the recorded no-usage stream, each with
    "usage":null, then the usage chunk in the form of the recorded include-usage stream, then
    [DONE]."""
    events = [e for e in (fixtures / "openai-chat-stream-no-usage.sse").read_text(encoding="utf-8").split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    picked = chunks[: 1 + CONTENT_EVENTS] + [chunks[-1]]
    assert picked[-1]["choices"][0]["finish_reason"] == "stop"
    usage_event = [e for e in (fixtures / "openai-chat-stream-include-usage.sse").read_text(encoding="utf-8").split("\n\n")
                   if '"choices":[]' in e]
    last = json.loads(usage_event[0][len("data: "):])
    for k in ("id", "created", "model"):
        last[k] = picked[0][k]
    prompt = 16  # the recorded JSON answer's prompt, which chat.lua sends
    last["usage"].update(prompt_tokens=prompt, completion_tokens=CONTENT_EVENTS,
                         total_tokens=prompt + CONTENT_EVENTS)
    last["usage"]["completion_tokens_details"]["reasoning_tokens"] = 0
    out = []
    for c in picked:
        c = dict(c)
        obf = c.pop("obfuscation")
        c["usage"] = None
        c["obfuscation"] = obf
        out.append(c)
    out.append(last)
    return "".join("data: " + json.dumps(c, separators=(",", ":")) + "\n\n" for c in out) + "data: [DONE]\n\n"


def nginx_quote(text):
    if "$" in text:  # nginx would read it as a variable
        raise SystemExit("a body holds '$'; escape it before serving it from nginx")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def bodies(args):
    fixtures, out = Path(args.fixtures), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    served = {"json": (fixtures / "openai-chat.json").read_text(encoding="utf-8"), "sse": sse_body(fixtures)}
    conf = []
    for name, body in served.items():
        (out / f"{name}.body").write_text(body, encoding="utf-8")
        pieces = [body[i:i + PIECE] for i in range(0, len(body), PIECE)]
        for i, p in enumerate(pieces):
            conf.append(f"map $scheme ${name}_{i} {{ default {nginx_quote(p)}; }}")
        conf.append(f"# {name}: {len(body)} bytes = " + "".join(f"${name}_{i}" for i in range(len(pieces))))
        (out / f"{name}.vars").write_text("".join(f"${name}_{i}" for i in range(len(pieces))), encoding="utf-8")
    (out / "bodies.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------------- table

CLK_TCK = os.sysconf("SC_CLK_TCK")
# issue 8's goals for tollgate against nginx
GOAL_RPS, GOAL_P99_MS, GOAL_CPU = 0.95, 1.0, 1.3


def cell(values, fmt):
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return (fmt + " ({}–{})").format(statistics.median(values), fmt.format(min(values)), fmt.format(max(values)))


def table(args):
    rows = []
    for line in Path(args.results).read_text(encoding="utf-8").splitlines():
        f = line.split()
        rnd, kind, proxy, store = int(f[0]), f[1], f[2], f[3]
        requests, secs, p50, p99 = int(f[4]), float(f[5]), float(f[6]), float(f[7])
        ticks, hwm_kb, extra_ticks = int(f[10]), int(f[11]), int(f[12])
        rows.append(dict(round=rnd, kind=kind, proxy=proxy, store=store, rps=requests / secs, p50=p50, p99=p99,
                         errors=int(f[8]), non2xx=int(f[9]),
                         cpu=ticks * 1e6 / CLK_TCK / requests if requests and ticks >= 0 else None,
                         extra=extra_ticks * 1e6 / CLK_TCK / requests if requests and extra_ticks > 0 else None,
                         rss=hwm_kb / 1024 if hwm_kb > 0 else None))
    nginx = {(r["round"], r["kind"]): r for r in rows if r["proxy"] == "nginx"}
    print("| kind | proxy | store | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MB"
          " | req/s ÷ nginx | CPU ÷ nginx | p99 − nginx ms | issue 8 goal | errors / non-2xx |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    order = {"upstream": 0, "nginx": 1, "tollgate": 2}
    keys = sorted({(r["kind"], r["proxy"], r["store"]) for r in rows}, key=lambda k: (k[0], order.get(k[1], 9), k[2]))
    for kind, proxy, store in keys:
        mine = [r for r in rows if (r["kind"], r["proxy"], r["store"]) == (kind, proxy, store)]
        col = lambda k: [r[k] for r in mine if r[k] is not None]
        cpu = cell(col("cpu"), "{:.0f}")
        if col("extra"):
            cpu += " +" + cell(col("extra"), "{:.0f}") + " redis"
        ratio = lambda f: [f(r, nginx[(r["round"], kind)]) for r in mine
                           if (r["round"], kind) in nginx and r["cpu"] is not None and nginx[(r["round"], kind)]["cpu"]]
        rps_r = ratio(lambda r, n: r["rps"] / n["rps"])
        cpu_r = ratio(lambda r, n: r["cpu"] / n["cpu"])
        p99_d = ratio(lambda r, n: r["p99"] - n["p99"])
        goal = "-"
        if proxy == "tollgate" and rps_r:
            met = min(rps_r) >= GOAL_RPS and max(p99_d) <= GOAL_P99_MS and max(cpu_r) <= GOAL_CPU
            goal = "met" if met else "not met"
        cmp = proxy == "tollgate"
        print(f"| {kind} | {proxy} | {store} | {cell(col('rps'), '{:.0f}')} | {cell(col('p50'), '{:.2f}')}"
              f" | {cell(col('p99'), '{:.2f}')} | {cpu} | {cell(col('rss'), '{:.0f}')}"
              f" | {cell(rps_r, '{:.2f}x') if cmp else '-'} | {cell(cpu_r, '{:.2f}x') if cmp else '-'}"
              f" | {cell(p99_d, '{:+.2f}') if cmp else '-'} | {goal}"
              f" | {sum(col('errors'))} / {sum(col('non2xx'))} |")


# ------------------------------------------------------------------------------------ streams

def proc_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def stream_call(args, state, i):
    body = json.dumps({"model": args.model, "stream": True, "max_tokens": 16,
                       "messages": [{"role": "user", "content": f"Stream number {i}, please, slowly."}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
            f"Authorization: Bearer {args.key}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"x-mock-chunk-delay-ms: {args.delay_ms}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    start = time.monotonic()
    streaming = False
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port), 30)
        try:
            writer.write(head + body)
            await writer.drain()
            status_and_headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), args.timeout)
            status = int(status_and_headers.split(b" ", 2)[1])
            if status != 200:
                raise RuntimeError(f"status {status}")
            headers = status_and_headers.decode("latin-1").lower()
            if "transfer-encoding: chunked" not in headers:
                raise RuntimeError("not chunked")
            streaming = True
            state["heads"].append(time.monotonic() - start)
            state["streaming"] += 1
            state["max_streaming"] = max(state["max_streaming"], state["streaming"])
            data = bytearray()
            deadline = start + args.timeout
            while True:
                size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), max(0.1, deadline - time.monotonic()))
                size = int(size_line.split(b";")[0], 16)
                chunk = await asyncio.wait_for(reader.readexactly(size + 2), max(0.1, deadline - time.monotonic()))
                if size == 0:
                    break
                data += chunk[:-2]
            if not data.endswith(b"data: [DONE]\n\n"):
                raise RuntimeError("stream ended without data: [DONE]")
            state["durations"].append(time.monotonic() - start)
            state["events"].append(data.count(b"\n\ndata: ") + 1)
        finally:
            writer.close()
    except Exception as e:  # noqa: BLE001 - every failure is counted by its kind
        reason = type(e).__name__ + (f": {e}" if str(e) else "")
        state["failures"][reason] = state["failures"].get(reason, 0) + 1
    finally:
        if streaming:
            state["streaming"] -= 1


async def sample_rss(pid, state, stop):
    while not stop.is_set():
        state["rss_kb"] = max(state["rss_kb"], proc_kb(pid, "VmRSS"))
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except asyncio.TimeoutError:
            pass


async def streams_main(args):
    state = dict(streaming=0, max_streaming=0, durations=[], heads=[], events=[], failures={}, rss_kb=0)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(args.pid, state, stop))
    rss_before = proc_kb(args.pid, "VmRSS")
    t0 = time.monotonic()
    await asyncio.gather(*(stream_call(args, state, i) for i in range(args.n)))
    wall = time.monotonic() - t0
    stop.set()
    await sampler
    spread = lambda v: {"min": round(min(v), 2), "p50": round(statistics.median(v), 2), "max": round(max(v), 2)} if v else None
    d = state["durations"]
    print(json.dumps({
        "streams": args.n, "completed": len(d), "failed": sum(state["failures"].values()),
        "failures": state["failures"], "max_concurrent": state["max_streaming"], "wall_s": round(wall, 2),
        "head_s": spread(state["heads"]), "duration_s": spread(d),
        "events_per_stream": sorted(set(state["events"])),
        "rss_before_mb": round(rss_before / 1024, 1), "rss_max_sampled_mb": round(state["rss_kb"] / 1024, 1),
        "vmhwm_mb": round(proc_kb(args.pid, "VmHWM") / 1024, 1)}))


def streams(args):
    asyncio.run(streams_main(args))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True)
    b = sub.add_parser("bodies")
    b.add_argument("fixtures")
    b.add_argument("out")
    b.set_defaults(fn=bodies)
    t = sub.add_parser("table")
    t.add_argument("results")
    t.set_defaults(fn=table)
    s = sub.add_parser("streams")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--model", default="mock-gpt")
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--delay-ms", type=int, required=True, help="the mock upstream's pause between events")
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--pid", type=int, required=True, help="tollgate's pid, whose RSS is sampled")
    s.set_defaults(fn=streams)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
