"""`make bench` / `python -m bench`: build the data set once, run every workload, write RESULTS.md.

python -m bench                      # 1,000,000 claims, 3 rounds of 10 s after a 3 s warm-up
python -m bench --quick              # 20,000 claims, 1 round of 2 s: a smoke run of a few minutes
python -m bench --claims 200000 --rounds 3 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import data, importing, load, queries, report, servers
from bench.load import Result, Target

PORTS = {"claimsbase": 8301, "floor": 8302, "postgraphile": 8303}
SEARCH_WORDS = ["energy", "sanctions", "border", "election", "budget", "climate", "nuclear", "summit", "pipeline"]
SAID = "said_after=2016-01-01T00:00:00Z&said_before=2024-01-01T00:00:00Z"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gql(query: str, variables: str) -> str:
    """A GraphQL POST body; ``variables`` is JSON text that may hold ``{V}``."""
    return '{"query": ' + json.dumps(query) + ', "variables": ' + variables + "}"


@dataclass
class Workload:
    """One thing measured: each implementation's target (None = not run, with the reason)."""

    name: str
    targets: dict[str, Target | str]
    floor: str | None = "floor"
    peer: str | None = None
    workers_matter: bool = True
    results: dict[str, Result] = field(default_factory=dict)


def workloads(ds: data.Dataset, urls: dict[str, str | None], pg_missing: str | None) -> list[Workload]:
    """Every workload of one phase, against the servers in ``urls``."""
    app, floor, peer = urls["claimsbase"], urls["floor"], urls["postgraphile"]
    ids = {"lo": ds.min_claim_id, "hi": ds.max_claim_id}
    speakers = [str(s) for s in ds.speakers[:100]]

    def t(url: str | None, path: str, body: str | None = None, **kw: object) -> Target | str:
        return Target(url, path, body, **kw) if url else "server not running"  # type: ignore[arg-type]

    def p(path: str, body: str, **kw: object) -> Target | str:
        return pg_missing or t(peer, path, body, **kw)

    return [
        Workload(
            "REST getClaim (random id)",
            {"Claimsbase": t(app, "/v1/claims/{V}", **ids), "floor": t(floor, "/rest/claims/{V}", **ids)},
        ),
        Workload(
            "REST listClaims speaker + dates",
            {
                "Claimsbase": t(app, "/v1/claims?speaker={V}&" + SAID, choices=speakers),
                "floor": t(floor, "/rest/speaker/{V}?" + SAID.replace("said_", ""), choices=speakers),
            },
        ),
        Workload(
            "REST q= search",
            {
                "Claimsbase": t(app, "/v1/claims?q={V}", choices=SEARCH_WORDS),
                "floor": t(floor, "/rest/search/{V}", choices=SEARCH_WORDS),
            },
        ),
        Workload(
            "GraphQL feed (50 claims)",
            {
                "Claimsbase": t(app, "/graphql", gql(queries.FEED, '{"first": 50}')),
                "floor": t(floor, "/feed"),
                "PostGraphile": p("/graphql", gql(queries.PG_FEED, '{"first": 50}')),
            },
            peer="PostGraphile",
        ),
        Workload(
            "GraphQL single claim (random id)",
            {
                "Claimsbase": t(app, "/graphql", gql(queries.CLAIM, '{"id": "{V}"}'), **ids),
                "floor": t(floor, "/gql/claim/{V}", **ids),
                "PostGraphile": p("/graphql", gql(queries.PG_CLAIM, '{"id": "{V}"}'), **ids),
            },
            peer="PostGraphile",
        ),
        Workload(
            "GraphQL person page (entity + 20 claims)",
            {
                "Claimsbase": t(app, "/graphql", gql(queries.PERSON, '{"id": "{V}"}'), choices=speakers),
                "floor": t(floor, "/gql/person/{V}", choices=speakers),
            },
        ),
        Workload(
            "GraphQL search",
            {
                "Claimsbase": t(app, "/graphql", gql(queries.SEARCH, '{"q": "{V}"}'), choices=SEARCH_WORDS),
                "floor": t(floor, "/gql/search/{V}", choices=SEARCH_WORDS),
            },
        ),
    ]


def deep_workloads(ds: data.Dataset, app: str, page: dict[str, int], cursors: dict[str, str]) -> list[Workload]:
    """First page against page ``page`` of the global feed, REST (20/page) and GraphQL (50/page)."""
    rest_first = Target(app, "/v1/claims?limit=20")
    rest_deep = Target(app, f"/v1/claims?limit=20&cursor={cursors['rest']}")
    gql_first = Target(app, "/graphql", gql(queries.FEED, '{"first": 50}'))
    gql_deep = Target(app, "/graphql", gql(queries.FEED_AFTER, json.dumps({"first": 50, "after": cursors["gql"]})))
    return [
        Workload(
            f"REST listClaims page {page['rest']:,} vs page 1",
            {"page 1": rest_first, "deep": rest_deep},
            floor=None,
            workers_matter=False,
        ),
        Workload(
            f"GraphQL feed page {page['gql']:,} vs page 1",
            {"page 1": gql_first, "deep": gql_deep},
            floor=None,
            workers_matter=False,
        ),
    ]


async def deep_cursors(ds: data.Dataset, page: int) -> tuple[dict[str, int], dict[str, str]]:
    """Cursors for page ``page`` (clamped to the data), built as the API builds them (db.filters.Cursor)."""
    import asyncpg

    from db.filters import Cursor

    conn = await asyncpg.connect(ds.dsn, server_settings={"TimeZone": "UTC"})
    try:
        live = await conn.fetchval("SELECT count(*) FROM claim WHERE deleted_at IS NULL")
        pages, cursors = {}, {}
        for kind, size in (("rest", 20), ("gql", 50)):
            n = max(2, min(page, live // size))
            row = await conn.fetchrow(
                "SELECT said_key::text AS key, id FROM claim WHERE deleted_at IS NULL "
                "ORDER BY said_key DESC, id DESC OFFSET $1 LIMIT 1",
                (n - 1) * size - 1,
            )
            pages[kind], cursors[kind] = n, Cursor("-said_at", row["key"], row["id"]).encode()
    finally:
        await conn.close()
    return pages, cursors


def check(target: Target, sample: str) -> str | None:
    """None when one request answers 200 without GraphQL errors, else what went wrong."""
    body = target.body.replace("{V}", sample).encode() if target.body is not None else None
    req = urllib.request.Request(
        target.url + target.path.replace("{V}", sample), body, {"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
    except Exception as exc:
        return f"check request failed: {exc}"[:200]
    if b'"errors"' in text[:2000]:
        return "responded with errors: " + text[:160].decode(errors="replace")
    return None


def measure(wls: list[Workload], args: argparse.Namespace) -> None:
    """Warm each target up, then rounds interleaving the implementations; fills ``results``."""
    for wl in wls:
        live: dict[str, Target] = {}
        for impl, target in wl.targets.items():
            if isinstance(target, str):
                wl.results[impl] = Result(skipped=target)
                continue
            sample = target.choices[0] if target.choices else str(target.lo)
            problem = check(target, sample)
            if problem:
                wl.results[impl] = Result(skipped=problem)
                continue
            log(f"  {wl.name} / {impl}: warm-up {args.warmup:g} s")
            load.run_wrk(target, args.warmup)
            live[impl] = target
            wl.results[impl] = Result()
        for r in range(args.rounds):
            for impl, target in live.items():
                try:
                    s = load.run_wrk(target, args.duration)
                except RuntimeError as exc:
                    wl.results[impl] = Result(skipped=str(exc))
                    continue
                wl.results[impl].samples.append(s)
                log(f"  {wl.name} / {impl} round {r + 1}: {s.rps:,.0f} req/s p50 {s.p50_ms:.2f} ms")


def pgbench_rows(ds: data.Dataset, args: argparse.Namespace) -> list[report.Row]:
    """The database floor: the feed and getClaim statements through pgbench, prepared, 8 clients."""
    from db.claims import GET_CLAIM

    feed_sql, feed_params, _ = queries.compiled(queries.FEED, {"first": 50})
    (claim_sql, claim_params, _), pos = queries.varying(
        queries.CLAIM, "id", queries.global_id("Claim", 5), queries.global_id("Claim", 7)
    )
    jobs = {
        "GraphQL feed (50 claims)": (feed_sql, feed_params, None),
        "GraphQL single claim (random id)": (claim_sql, claim_params, pos[0] if len(pos) == 1 else None),
        "REST getClaim (random id)": (GET_CLAIM, [1], 0),
    }
    rows = []
    for name, (sql, params, variable) in jobs.items():
        result = Result()
        try:
            script = load.pgbench_script(sql, params, variable, ds.min_claim_id, ds.max_claim_id)
            for _ in range(args.rounds):
                result.samples.append(load.run_pgbench(ds.dsn, script, args.duration))
        except (RuntimeError, ValueError) as exc:
            result = Result(skipped=str(exc)[:200])
        log(f"  pgbench {name}: {'skipped' if result.skipped else f'{result.rps:,.0f} tx/s'}")
        rows.append(report.Row(name, "pgbench (same SQL, -M prepared)", "8 clients", result))
    return rows


def phase(
    ds: data.Dataset,
    workers: int,
    args: argparse.Namespace,
    pg_missing: str | None,
    deep: tuple[dict[str, int], dict[str, str]] | None,
) -> list[Workload]:
    """Start the servers with ``workers`` workers, run every workload, stop them."""
    started: list[servers.Server] = []
    urls: dict[str, str | None] = dict.fromkeys(PORTS)
    starts: list[tuple[str, Callable[[], servers.Server]]] = [
        ("claimsbase", lambda: servers.claimsbase(ds.dsn, PORTS["claimsbase"], workers, args.rate_limit)),
        ("floor", lambda: servers.floor(ds.dsn, PORTS["floor"], workers, SEARCH_WORDS)),
    ]
    if pg_missing is None:
        starts.append(("postgraphile", lambda: servers.postgraphile(ds.dsn, PORTS["postgraphile"])))
    failures = {}
    try:
        for name, start in starts:
            try:
                server = start()
                started.append(server)
                urls[name] = server.url
            except RuntimeError as exc:
                failures[name] = str(exc)
                log(f"  {name} did not start: {exc}")
        wls = workloads(ds, urls, pg_missing or failures.get("postgraphile"))
        if deep is not None and urls["claimsbase"]:
            wls += deep_workloads(ds, urls["claimsbase"], *deep)
        if args.only:
            wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
            wls = [wl for wl in wls if any(w in wl.name.lower() for w in wanted)]
        log(f"phase: {workers} worker(s); prewarm: {asyncio.run(data.prewarm(ds.dsn))}")
        measure(wls, args)
    finally:
        for server in started:
            server.stop()
    for wl in wls:
        for impl, result in wl.results.items():
            name = {"claimsbase": "Claimsbase", "floor": "floor"}
            for key, why in failures.items():
                if impl == name.get(key) and result.skipped == "server not running":
                    wl.results[impl] = Result(skipped=why[:200])
    return wls


def rows_of(wls: list[Workload], workers: int) -> list[report.Row]:
    rows = []
    for wl in wls:
        floor = wl.results.get(wl.floor) if wl.floor else None
        peer = wl.results.get(wl.peer) if wl.peer else None
        for impl, result in wl.results.items():
            impl_name = {"floor": "bare-ASGI floor (same SQL)"}.get(impl, impl)
            note = ""
            if impl == "deep" and not result.skipped and not wl.results["page 1"].skipped:
                ratio = result.p50_ms / wl.results["page 1"].p50_ms
                note = f"p50 deep / page 1 = {ratio:.2f}×"
            rows.append(
                report.Row(
                    wl.name,
                    impl_name,
                    str(workers) if wl.workers_matter else f"{workers} (latency)",
                    result,
                    vs_floor=floor if impl == "Claimsbase" else None,
                    vs_peer=peer if impl == "Claimsbase" else None,
                    note=note,
                )
            )
    return rows


def middleware_names() -> str:
    """The middleware the app installs, so the table says what 'with auth, limits, logging' meant."""
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url="postgresql://unused", load_demo=False))
    names = [getattr(m.cls, "__name__", str(m.cls)) for m in app.user_middleware]  # outermost first
    return " → ".join(names) or "none"


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--claims", type=int, default=1_000_000, help="data set size (built once, reused)")
    ap.add_argument("--quick", action="store_true", help="20,000 claims, 1 round of 2 s after 1 s warm-up")
    ap.add_argument("--dsn", default=data.DEFAULT_DSN, help="bench database (created if missing)")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured round")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per target (the median is reported)")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (comma-separated)")
    ap.add_argument("--deep-page", type=int, default=5000, help="keyset page compared with the first")
    ap.add_argument("--import-claims", type=int, default=20_000, help="claims in the bulk-import file")
    ap.add_argument(
        "--rate-limit",
        type=int,
        default=1_000_000_000,
        help="CLAIMS_RATE_LIMIT_PER_MINUTE for the server: on, but above what wrk can send",
    )
    ap.add_argument("--skip", default="", help="comma-separated: postgraphile, pgbench, import")
    ap.add_argument("--only", default="", help="comma-separated parts of workload names, e.g. 'getClaim,single'")
    args = ap.parse_args(argv)
    if args.quick:
        args.claims, args.duration, args.warmup, args.rounds = 20_000, 2, 1, 1
        args.import_claims = min(args.import_claims, 2_000)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    skip = set(filter(None, args.skip.split(",")))
    command = "make bench" + (f' BENCH_ARGS="{shlex.join(argv)}"' if argv else "")
    begun = time.monotonic()
    why_no_wrk = load.wrk_available()
    if why_no_wrk:
        log(why_no_wrk)
        return 2
    generator = data.build(args.dsn, args.claims, log)
    ds = asyncio.run(data.describe(args.dsn, args.claims, generator))
    pg_missing = "skipped (--skip postgraphile)" if "postgraphile" in skip else servers.postgraphile_missing()
    rep = report.Report(command)
    rep.settings += [
        f"- data: {args.claims:,} claims, built by {generator}",
        f"- load: wrk, 2 threads, 8 connections; {args.warmup:g} s warm-up per target, then "
        f"{args.rounds} round(s) of {args.duration:g} s interleaving the implementations; medians "
        "(notes: the ratio round by round)",
        f"- Claimsbase: `claims serve --workers N`, CLAIMS_LOAD_DEMO=false, "
        f"CLAIMS_RATE_LIMIT_PER_MINUTE={args.rate_limit} (limiter on but never reached), other settings default; "
        f"middleware installed by the app at this commit: {middleware_names()}",
        "- PostGraphile: one Node 22 process (PostGraphile is single-threaded), same database, "
        "bench/postgraphile/graphile.config.mjs",
    ]
    deep = asyncio.run(deep_cursors(ds, args.deep_page))
    for i, workers in enumerate(int(w) for w in args.workers.split(",")):
        rep.rows += rows_of(phase(ds, workers, args, pg_missing, deep if i == 0 else None), workers)
    if "pgbench" not in skip:
        log("phase: pgbench")
        rep.rows += pgbench_rows(ds, args)
    if "import" not in skip:
        log(f"phase: bulk import of {args.import_claims:,} claims")
        try:
            rep.extra += report.import_table(importing.run(args.dsn, args.import_claims))
        except Exception as exc:
            rep.extra += ["## Bulk import", "", f"not run: {exc}"[:300]]
    rep.extra.append(f"Total run time: {time.monotonic() - begun:.0f} s.")
    print(report.write(rep, args.dsn))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
