"""Timing, memory and reporting helpers shared by the benchmark sections.

Every figure is a median over `repeats` timed runs after `warmup` untimed
ones. Candidates that are compared are timed in interleaved rounds (A, B,
C, A, B, C, ...) so that load from other processes on a shared machine
hits all of them alike, and every ratio comes from one such run.
"""

import argparse
import json
import math
import os
import platform
import resource
import statistics
import time

# Each timed sample lasts at least this long: fast calls are repeated
# `number` times inside one sample, as `timeit` does.
MIN_SAMPLE_SECONDS = 0.05


def peak_rss_mib():
    """Returns the peak resident set size of this process, in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    """Returns the current resident set size of this process, in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def reset_peak_rss():
    """Resets the peak RSS counter (Linux), so a phase reports its own."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def time_interleaved(candidates, repeats, warmup, progress=None):
    """Times zero-argument callables in interleaved rounds.

    Args:
        candidates: dict, name -> callable that returns when its work is
            done (results already computed, not just queued).
        repeats: timed rounds.
        warmup: untimed calls of each candidate first (compilation,
            allocator and oneDNN primitive caches).
        progress: optional callable(name) called before each warm-up.

    Returns:
        dict, name -> `{"median_s", "min_s", "max_s", "samples", "number",
        "warmup_peak_extra_mib"}`: seconds per call, and how far the
        process's peak RSS rose above the resident size during warm-up.
    """
    numbers = {}
    extra_memory = {}
    for name, function in candidates.items():
        if progress is not None:
            progress(name)
        peak_reset = reset_peak_rss()
        resident = rss_mib()
        for _ in range(max(1, warmup)):
            start = time.perf_counter()
            function()
            elapsed = time.perf_counter() - start
        # Memory the first calls needed on top of what was resident
        # (activations, gradients, optimizer slots, compiled code).
        extra_memory[name] = peak_rss_mib() - resident if peak_reset else None
        if elapsed < 1.0:  # short calls: one more, warm, sizes the samples
            start = time.perf_counter()
            function()
            elapsed = time.perf_counter() - start
        numbers[name] = max(1, math.ceil(MIN_SAMPLE_SECONDS / max(elapsed, 1e-9)))
    samples = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                function()
            seconds = (time.perf_counter() - start) / numbers[name]
            samples[name].append(seconds)
    return {
        name: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "samples": len(values),
            "number": numbers[name],
            "warmup_peak_extra_mib": extra_memory[name],
        }
        for name, values in samples.items()
    }


def machine_info():
    """Describes where the numbers were measured."""
    info = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "processor": platform.processor() or platform.machine(),
    }
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["processor"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def format_table(rows, columns):
    """Formats `rows` (dicts) as a plain text table of `columns`."""

    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            if value == 0 or 0.01 <= abs(value) < 1e5:
                return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
            return f"{value:.3g}"
        return str(value)

    table = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in table)) if table
        else len(column)
        for i, column in enumerate(columns)
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths))
              for line in table]
    return "\n".join(lines)


def write_report(report, json_path=None):
    """Prints `RESULT_JSON {...}` (one line, for logs) and writes the
    report to `json_path` when given."""
    print("RESULT_JSON " + json.dumps(report))
    if json_path:
        with open(json_path, "w") as file:
            json.dump(report, file, indent=2)


def ratio_row(name, numerator, denominator, target=None):
    """A comparison measured in one run: `numerator / denominator`."""
    value = numerator / denominator if denominator else None
    return {
        "ratio": name,
        "value": value,
        "target": target,
        "met": None if target is None or value is None else value >= target,
    }


class Section:
    """Collects one section's rows, ratios and notes for the report."""

    def __init__(self, name):
        self.name = name
        self.rows = []
        self.ratios = []
        self.notes = []
        self.available = True

    def add_timings(self, timings, extra, per_call_items=None):
        """Adds a row per candidate; `per_call_items` gives items/s."""
        for candidate, timing in timings.items():
            row = {"name": candidate, **extra, **timing}
            if per_call_items:
                row["items_per_s"] = per_call_items / timing["median_s"]
            self.rows.append(row)

    def note(self, text):
        print(f"[{self.name}] {text}", flush=True)
        self.notes.append(text)

    def to_json(self):
        return {
            "available": self.available,
            "rows": self.rows,
            "ratios": self.ratios,
            "notes": self.notes,
        }

    def print_report(self, columns):
        print(f"\n== {self.name} ==")
        if self.rows:
            print(format_table(self.rows, columns))
        if self.ratios:
            print()
            print(format_table(self.ratios, ["ratio", "value", "target", "met"]))
        for text in self.notes:
            print(f"note: {text}")
        print(flush=True)


def layer_benchmark_parser(doc, repeats, repeats_help):
    """The parser of a standalone per-layer benchmark: `--repeats`,
    `--batch` (default 8) and `--json`; `doc` is the script's docstring,
    whose first paragraph becomes the description."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=repeats_help)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", default=None, help="write the report here")
    return parser


def parse_layer_benchmark_args(parser, argv):
    """`parser.parse_args(argv)`, then a usage error (exit 2) naming
    `--repeats` or `--batch` when either is below 1; also prints the CPU.
    Returns `(args, machine_info())`."""
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1:
        parser.error(f"--repeats and --batch must be >= 1. Received: "
                     f"--repeats {args.repeats}, --batch {args.batch}")
    info = machine_info()
    print(f"CPU: {info['processor']} ({info['cpu_count']} cores)")
    return args, info
