"""Run every benchmark and write ``benchmarks/RESULTS.md``.

Each ``bench_*.py`` script in this folder prints its own numbers (times,
ratios against a peer measured in the same run). This entry point runs them
one after another in fresh processes, so none inherits another's caches or
thread settings, and records their output with the machine they ran on.

Run: ``python benchmarks/run_all.py [--only NAME ...] [--out PATH]``
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine_description():
    import numpy as np
    import sklearn
    import torch

    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.platform()}",
        f"- processor: {_cpu_model()}",
        f"- memory: {_memory_gib():.1f} GiB",
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, torch {torch.__version__}",
        "- CUDA: "
        + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"),
    ]
    return "\n".join(lines)


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="benchmark names, e.g. windowing features")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{n.removeprefix('bench_').removesuffix('.py')}.py" for n in args.only}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            parser.error(
                f"unknown benchmark(s) {sorted(unknown)}; have {[s.name for s in scripts]}"
            )
        scripts = [s for s in scripts if s.name in wanted]

    # With --only, the other benchmarks' sections of the existing file stay.
    sections = _read_sections(Path(args.out)) if args.only else {}
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        # Passive OpenMP waits, as the skeeg2bold command sets them
        # (skeeg2bold.utils.passive_thread_waits).
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent, env=env
        )
        elapsed = time.perf_counter() - t0
        output = (proc.stdout + ("\n" + proc.stderr if proc.returncode else "")).strip()
        print(output, flush=True)
        doc = _first_doc_line(script)
        status = "" if proc.returncode == 0 else f" — **FAILED (exit {proc.returncode})**"
        if proc.returncode:
            failed.append(script.name)
        name = script.stem.removeprefix("bench_")
        sections[name] = (
            f"## {name}{status}\n\n{doc}\n\n"
            f"`python benchmarks/{script.name}` ({elapsed:.0f} s, "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)\n\n"
            f"```\n{output}\n```\n"
        )
    text = (
        "# Benchmark results\n\nWritten by `python benchmarks/run_all.py`.\n\n"
        f"{machine_description()}\n\n" + "\n".join(sections[name] for name in sorted(sections))
    )
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 1 if failed else 0


def _read_sections(path):
    """``{name: text}`` of the ``## name`` sections of an existing results file."""
    if not path.exists():
        return {}
    sections, name, in_code = {}, None, False
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            in_code = not in_code
        if line.startswith("## ") and not in_code:  # benchmarks print "##" lines too
            name = line[3:].split()[0]
            sections[name] = ""
        if name is not None:
            sections[name] += line
    return {k: v.rstrip("\n") + "\n" for k, v in sections.items()}


def _first_doc_line(script):
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


if __name__ == "__main__":
    sys.exit(main())
