#!/usr/bin/env python3
"""Release benchmarks of issue 15 against an out-of-process sandbox (run by scripts/bench.sh).

1. No-op plan over N converged tenants (default 100, 1,000 and 10,000) at a given latency: wall
   time, Graph requests, wall / (requests x latency / parallelism), the tool's peak RSS and CPU
   time (wait4), the sandbox's CPU time over the same span (/proc/<pid>/stat).
2. Fresh apply of one customer: the apply phase in round trips (first write to last write in
   the sandbox's request log) against the dependency depth of the plan's creates.

Converged worlds are not applied tenant by tenant: one customer is applied once, and its
sandbox state is copied to every other tenant (names and tenant id rewritten), so seeding
10,000 tenants takes seconds. Prints a Markdown table for docs/performance.md. The client secret
the sandbox prints stays in this process's environment for the children; it is never printed.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import shlex
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

PROVIDER_FIXTURE = "tests/fixtures/world/provider.yaml"
TEMPLATE_NAME = "bench00000"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tenant_id(i):
    return f"0b000000-0000-4000-8000-{i:012d}"


def customer_doc(i):
    name = f"bench{i:05d}"
    return (
        "apiVersion: mssp.io/v1\nkind: Customer\n"
        f"metadata: {{name: {name}}}\nspec:\n  tenantId: {tenant_id(i)}\n"
        f"  domain: {name}.onmicrosoft.com\n  displayName: Customer {name}\n"
        "  access: {tiers: [tier1]}\n"
    )


def write_manifests(d, n):
    os.makedirs(d, exist_ok=True)
    with open(PROVIDER_FIXTURE) as f:
        provider = f.read()
    with open(os.path.join(d, "provider.yaml"), "w") as f:
        f.write(provider)
    if n:
        with open(os.path.join(d, "customers.yaml"), "w") as f:
            f.write("---\n".join(customer_doc(i) for i in range(n)))


class Sandbox:
    def __init__(self, binary, work, seed, state=None, latency_ms=0):
        self.ca_dir = os.path.join(work, "sb")
        args = [binary, "sandbox", "serve", "--seed", seed, "--ca-dir", self.ca_dir,
                "--latency-ms", str(latency_ms), "--replication-delay-ms", "0",
                "--retry-after-secs", "0"]
        if state:
            args += ["--state", state]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            sys.exit("bench: the sandbox did not start")
        info = json.loads(line)
        self.url = info["url"]
        self.ca = info["ca_cert"]
        self.env = dict(os.environ)
        self.env.update({
            "AZURE_AUTHORITY_HOST": self.url, "MSSP_GRAPH_URL": self.url,
            "MSSP_DEFENDER_URL": self.url, "AZURE_CLIENT_ID": info["client_id"],
            "AZURE_CLIENT_SECRET": info["client_secret"], "MSSP_CA_BUNDLE": self.ca,
            "MSSP_STATE_DIR": os.path.join(work, "tool-state"), "NO_COLOR": "1",
        })
        self.ssl = ssl.create_default_context(cafile=self.ca)

    def control(self, method, path):
        req = urllib.request.Request(f"{self.url}/_sandbox/{path}", method=method)
        with urllib.request.urlopen(req, context=self.ssl, timeout=600) as r:
            body = r.read()
        return json.loads(body) if body else None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=600)


def run_tool(binary, args, env, wrap=()):
    """Runs the tool (behind `wrap`, a command prefix); returns (exit code, wall s, peak RSS MB,
    CPU s)."""
    started = time.monotonic()
    p = subprocess.Popen(list(wrap) + [binary] + args, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    stderr_tail = p.stderr.read()[-2000:]
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if p.returncode not in (0, 2):
        sys.stderr.write(stderr_tail.decode(errors="replace"))
    return p.returncode, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def seed_converged(binary, work, n):
    """A state file with the provider and n converged customers."""
    tdir = os.path.join(work, "template")
    write_manifests(tdir, 1)
    state = os.path.join(work, "template-state.json")
    sb = Sandbox(binary, work, tdir, state=state)
    rc, *_ = run_tool(binary, ["apply", "--auto-approve", "--parallelism", "2", tdir], sb.env)
    sb.stop()
    if rc != 0:
        sys.exit(f"bench: applying the template customer failed ({rc})")
    with open(state) as f:
        st = json.load(f)
    tid0 = tenant_id(0)
    template = json.dumps(st["tenants"].pop(tid0), separators=(",", ":"))
    out = os.path.join(work, f"state-{n}.json")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        head = {k: v for k, v in st.items() if k != "tenants"}
        f.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"tenants":{')
        first = True
        for tid, t in st["tenants"].items():
            f.write(("" if first else ",") + json.dumps(tid) + ":" + json.dumps(t, separators=(",", ":")))
            first = False
        for i in range(n):
            name, tid = f"bench{i:05d}", tenant_id(i)
            # Both strings contain characters no GUID or base64 id holds next to them
            # ("n", "h", "-" runs), so nothing else is rewritten.
            text = template.replace(TEMPLATE_NAME, name).replace(tid0, tid)
            f.write("," + json.dumps(tid) + ":" + text)
        f.write("}}")
    return out


def noop_plan(binary, work, n, latency_ms, parallelism, plan_args=(), wrap=()):
    run = os.path.join(work, f"world-{n}")
    manifests = os.path.join(run, "manifests")
    t0 = time.monotonic()
    state = seed_converged(binary, run, n)
    write_manifests(manifests, n)
    # The SIEM secret's sink (a file next to the manifests) holds the applied secret: without
    # it the plan would replace the secret.
    shutil.copytree(os.path.join(run, "template", "secrets"), os.path.join(manifests, "secrets"))
    sb = Sandbox(binary, run, manifests, state=state, latency_ms=latency_ms)
    seeded = time.monotonic() - t0
    sb.control("POST", "reset-log")
    cpu0 = sb.cpu_seconds()
    rc, wall, rss, cpu = run_tool(
        binary, ["plan", "--detailed-exitcode", "--parallelism", str(parallelism), *plan_args,
                 manifests], sb.env, wrap)
    sb_cpu = sb.cpu_seconds() - cpu0
    log = sb.control("GET", "requests")
    sb_rss = sb.rss_mb()
    sb.stop()
    tokens = sum(1 for e in log if e["path"].endswith("/oauth2/v2.0/token"))
    graph = len(log) - tokens
    bound = graph * latency_ms / 1000 / parallelism
    return {
        "tenants": n, "rc": rc, "wall": wall, "graph": graph, "per_tenant": graph / (n + 1),
        "tokens": tokens, "bound": bound, "ratio": wall / bound if bound else 0.0,
        "rss": rss, "cpu": cpu, "sb_cpu": sb_cpu, "sb_rss": sb_rss, "seeded": seeded,
    }


def parse_time(s):
    # jiff prints up to nanoseconds; Python reads microseconds.
    s = s.rstrip("Z")
    if "." in s:
        whole, frac = s.split(".")
        s = f"{whole}.{frac[:6]:0<6}"
    return datetime.fromisoformat(s).timestamp()


def fresh_apply(binary, work, latency_ms):
    d = os.path.join(work, "fresh", "manifests")
    write_manifests(d, 1)
    sb = Sandbox(binary, os.path.dirname(d), d, latency_ms=latency_ms)
    # The MSSP tenant first (the SIEM app), from its manifest alone, so the customer is measured alone.
    provider_only = os.path.join(work, "fresh", "provider")
    write_manifests(provider_only, 0)
    rc, *_ = run_tool(binary, ["apply", "--auto-approve", provider_only], sb.env)
    if rc != 0:
        sb.stop()
        sys.exit(f"bench: applying the provider failed ({rc})")
    shutil.copytree(os.path.join(provider_only, "secrets"), os.path.join(d, "secrets"))
    plan_file = os.path.join(os.path.dirname(d), "plan.json")
    run_tool(binary, ["plan", "--format", "json", "--out", plan_file, "--customer", TEMPLATE_NAME, d], sb.env)
    with open(plan_file) as f:
        plan = json.load(f)
    actions = next(t for t in plan["tenants"] if t["name"] == TEMPLATE_NAME)["actions"]
    creates = {a["address"]: a.get("dependsOn", []) for a in actions if a["op"] == "create"}
    depth = {}

    def depth_of(addr):
        if addr not in depth:
            depth[addr] = 1 + max((depth_of(x) for x in creates.get(addr, []) if x in creates), default=0)
        return depth[addr]

    max_depth = max((depth_of(a) for a in creates), default=0)
    sb.control("POST", "reset-log")
    rc, wall, _, _ = run_tool(binary, ["apply", "--auto-approve", "--customer", TEMPLATE_NAME, d], sb.env)
    log = sb.control("GET", "requests")
    sb.stop()
    writes = [parse_time(e["time"]) for e in log
              if e["method"] != "GET" and not e["path"].endswith("/token")
              # `$batch` is a POST of reads: the plan before and the verification after.
              and not e["path"].endswith("/$batch")
              and e.get("tenant") == tenant_id(0)]
    lat = latency_ms / 1000
    # Log times are taken as answers leave: the first write started one latency earlier.
    phase = (max(writes) - min(writes) + lat) if writes else 0.0
    return {"rc": rc, "wall": wall, "trips": wall / lat, "phase_trips": phase / lat,
            "writes": len(writes), "depth": max_depth, "creates": len(creates)}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}"


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/mssp")
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--parallelism", type=int, default=8)
    ap.add_argument("--skip-apply", action="store_true")
    # Diagnostics, not figures for the table: other outputs of the plan (`--plan-args "--format
    # json"`, `--out FILE`) and a command prefix for the measured plan only (`--wrap "heaptrack
    # -o /tmp/plan"`, `--wrap "env MALLOC_ARENA_MAX=2"`; the sandbox runs unwrapped).
    ap.add_argument("--plan-args", default="")
    ap.add_argument("--wrap", default="")
    ap.add_argument("tenants", nargs="*", type=int, default=[100, 1000, 10000])
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="mssp-bench-") as work:
        print(f"machine: {machine()}; binary {a.bin} at {commit}; load average before: {load()}",
              flush=True)
        rows = []
        for n in a.tenants:
            r = noop_plan(binary, work, n, a.latency_ms, a.parallelism,
                          shlex.split(a.plan_args), shlex.split(a.wrap))
            r["load"] = load()
            rows.append(r)
            print(f"  {n} tenants done: {r['wall']:.1f} s (seeded in {r['seeded']:.1f} s), "
                  f"exit {r['rc']}, load {r['load']}", flush=True)
        fresh = None if a.skip_apply else fresh_apply(binary, work, a.latency_ms)
        print()
        extra = "".join(f" {o} {shlex.quote(x)}" for o, x in
                        (("--plan-args", a.plan_args), ("--wrap", a.wrap)) if x)
        print(f"No-op plan, `--parallelism {a.parallelism}`, sandbox out of process at "
              f"{a.latency_ms} ms (`scripts/bench.sh {' '.join(map(str, a.tenants))}{extra}`):")
        print()
        print("| Tenants | Wall | Graph requests (per tenant) | Token requests | Bound | Wall ÷ bound "
              "| Tool peak RSS | Tool CPU | Sandbox CPU | Sandbox RSS | Exit | Load (1/5/15 min) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['tenants']:,} | {r['wall']:.1f} s | {r['graph']:,} ({r['per_tenant']:.2f}) "
                  f"| {r['tokens']:,} | {r['bound']:.1f} s | {r['ratio']:.2f}× | {r['rss']:.0f} MB "
                  f"| {r['cpu']:.1f} s | {r['sb_cpu']:.1f} s | {r['sb_rss']:.0f} MB | {r['rc']} "
                  f"| {r['load']} |")
        if fresh:
            print()
            print(f"Fresh apply of one customer at {a.latency_ms} ms (`apply --auto-approve "
                  f"--customer {TEMPLATE_NAME}`, provider already applied):")
            print()
            print("| Apply phase (first to last write) | Whole command | Writes | Creates | Dependency depth | Goal | Exit |")
            print("|---|---|---|---|---|---|---|")
            print(f"| {fresh['phase_trips']:.1f} round trips | {fresh['wall']:.2f} s = "
                  f"{fresh['trips']:.1f} round trips | {fresh['writes']} | {fresh['creates']} "
                  f"| {fresh['depth']} | ≤ {fresh['depth'] + 2} | {fresh['rc']} |")
        print()
        print(f"Bound = Graph requests × latency / parallelism (token requests get no added latency). "
              f"Load average after: {load()}.")


if __name__ == "__main__":
    main()
