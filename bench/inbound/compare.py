"""The interleaved comparison (`python -m bench.inbound compare`): a baseline commit against the current
checkout, measured by the same bench code in the same session.

The baseline is checked out as a git worktree outside the repository (`--baseline-dir`) sharing this
checkout's `.venv` and `.venv-rasa` (symlinks); it keeps its own `models/` directory, holding a link to this
checkout's model when both trees' training data are the same and a model trained once by its own training code
otherwise (its domain and rules are what its actions expect). Then, `--runs` times, baseline then change:
a fresh PostgreSQL database migrated and loaded by that tree, that tree's processes started from its own
root (`python -m bot.cli web|worker|actions|rasa-server`, what its Procfile's `regua ...` runs, but with
the tree's `bot` rather than the one installed in the shared `.venv`), a warm-up, Régua at `--rate` for
`--duration` seconds, then Rasa's bare REST turn on that same Rasa at the same rate, every process stopped
and the database dropped. Only the app under test differs between the sides.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import time
from pathlib import Path

import redis

from bench.inbound.compare_report import write_compare
from bench.inbound.constants import PROJECT_ROOT, console
from bench.inbound.data import scratch_database, seed_people
from bench.inbound.load import LoadGenerator, plan
from bench.inbound.measure import Outcome
from bench.inbound.processes import CURRENT, Tree, stop_all
from bench.inbound.session import (
    configured_database,
    database_version,
    debtors_per_run,
    measure,
    model_name,
    new_run_dir,
    redis_url_for,
)
from bench.inbound.stack import running_stack
from bench.inbound.systems import warm_up

SHARED_LINKS = (".venv", ".venv-rasa")


def git(*args: str, cwd: Path = PROJECT_ROOT) -> str:
    """Run git in `cwd`; its output, stripped."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def baseline_tree(commit: str, directory: Path) -> Tree:
    """A worktree of `commit` at `directory` (made, or moved to that commit if it is one already), with the
    shared environments linked in and a models directory of its own."""
    sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    if not directory.exists():
        console.print(f"[bold]baseline[/]: git worktree of {sha[:10]} at {directory} ...")
        git("worktree", "add", "--detach", str(directory), sha)
    elif git("rev-parse", "HEAD", cwd=directory) != sha:
        if git("status", "--porcelain", "--untracked-files=no", cwd=directory):
            raise SystemExit(f"{directory} has local changes; remove it or pick another --baseline-dir")
        git("checkout", "-q", "--detach", sha, cwd=directory)
    for name in SHARED_LINKS:
        link = directory / name
        if not link.exists():
            link.symlink_to(os.path.realpath(PROJECT_ROOT / name))
    tree = Tree("baseline", directory, models_dir=directory / "models")
    tree.models_dir.mkdir(exist_ok=True)
    return tree


def baseline_model(tree: Tree) -> str:
    """Link this checkout's model into the baseline's models directory when the training data are the same;
    else train the baseline's own (once: it stays in its directory)."""
    assert tree.models_dir is not None
    name = model_name(tree)
    shared, own = PROJECT_ROOT / "models" / name, tree.models_dir / name
    if shared.exists() and not own.exists():
        own.symlink_to(shared.resolve())
    if not own.exists():
        console.print(
            f"[bold]baseline model[/]: training {name} (its training data differ; a few minutes) ..."
        )
    return model_name(tree, train=True)


def one_run(
    args: argparse.Namespace,
    tree: Tree,
    index: int,
    redis_url: str,
    gen: LoadGenerator,
    run_dir: Path,
    idle_deadline: float,
) -> tuple[dict[str, Outcome], str]:
    """Run `index` of one side: fresh database and Redis database, `tree`'s stack, warm-up, Régua then Rasa's
    bare REST turn at `args.rate`; the outcomes by system, and the database's version."""
    per = debtors_per_run(args.rate, args.duration)
    redis.Redis.from_url(redis_url).flushdb()
    log_dir = run_dir / f"{index}-{tree.label}"
    log_dir.mkdir(parents=True)
    name = f"regua_bench_{tree.label}_{index}_{os.getpid()}"
    outcomes: dict[str, Outcome] = {}
    with scratch_database(configured_database(), name) as database_url:
        people = seed_people(
            tree, database_url, 2 * per + 24, [(per, 2 * per), (2 * per + 12, 2 * per + 24)], log_dir
        )
        version = database_version(database_url)
        with running_stack(args, database_url, redis_url, log_dir, tree) as stack:
            warm_up(stack, people[2 * per : 2 * per + 12], people[2 * per + 12 :], args.systems)
            for system, pool in (("regua", people[:per]), ("rasa_rest", people[per : 2 * per])):
                shots = plan(args.rate, args.duration, pool)
                outcomes[system] = measure(stack, gen, system, args.rate, shots, args, idle_deadline)
                time.sleep(3)
    return outcomes, version


def run_compare(args: argparse.Namespace) -> int:
    """Baseline and change, interleaved, `args.runs` runs each; then inbound-compare.md and .json."""
    configured = configured_database()
    if not configured or not configured.startswith("postgresql"):
        raise SystemExit("the comparison runs on PostgreSQL: set DATABASE_URL=postgresql://...")
    baseline = baseline_tree(args.baseline, args.baseline_dir)
    sides = {"baseline": baseline, "change": CURRENT}
    commits = {
        "baseline": git("rev-parse", "HEAD", cwd=baseline.root),
        "change": git("rev-parse", "HEAD")
        + (" (with local changes)" if git("status", "--porcelain") else ""),
    }
    models = {"baseline": baseline_model(baseline), "change": model_name(CURRENT, train=True)}
    console.print(f"  models: baseline {models['baseline']}, change {models['change']}")
    run_dir = new_run_dir("compare")
    redis_url = redis_url_for(args.redis_db)
    idle_deadline = time.monotonic() + args.wait_idle
    gen = LoadGenerator()
    runs: list[dict] = []
    database = ""
    started = time.monotonic()
    try:
        for index in range(1, args.runs + 1):
            for label, tree in sides.items():
                console.print(f"[bold]run {index}/{args.runs}: {label}[/] ({tree.root})")
                outcomes, database = one_run(args, tree, index, redis_url, gen, run_dir, idle_deadline)
                runs.append({"side": label, "run": index, **outcomes})
    finally:
        stop_all()
        gen.close()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(redis_url).flushdb()
    elapsed = time.monotonic() - started
    paths = write_compare(args, runs, commits=commits, models=models, database=database, elapsed=elapsed)
    console.print(f"results in {paths[0]} and {paths[1].name}; logs in {run_dir}")
    return 0
