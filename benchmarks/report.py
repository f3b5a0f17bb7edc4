"""Summaries of an overhead run: medians, ratios, a Markdown table, JSON, an optional chart.

Ratios are the median of per-round ratios (variant req/s over bare req/s in the same round),
not a ratio of medians: within one round the two ran seconds apart, so machine drift cancels.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.loadgen import LoadResult

_WIDE_SPREAD = 0.10


@dataclass
class Cell:
    """All rounds of one framework/endpoint/variant.

    ``runs`` and ``foreign`` (foreign CPU load in cores, ``None`` when unknown) are keyed by
    round; a round counts as quiet when its foreign load stayed at or under ``quiet_cores``.
    """

    framework: str
    endpoint: str
    variant: str
    body_bytes: int
    target: float | None = None
    runs: dict[int, LoadResult] = field(default_factory=dict)
    foreign: dict[int, float | None] = field(default_factory=dict)

    def quiet(self, rnd: int, quiet_cores: float) -> bool:
        load = self.foreign.get(rnd)
        return load is None or load <= quiet_cores

    def summary(self, bare: Cell | None, quiet_cores: float) -> dict[str, Any]:
        """Medians over quiet rounds (over all rounds when none was quiet)."""
        paired = sorted(set(self.runs) & set(bare.runs)) if bare else []
        calm = [r for r in paired if self.quiet(r, quiet_cores) and bare and bare.quiet(r, quiet_cores)]
        used = calm or paired
        ratios = [self.runs[r].rps / bare.runs[r].rps for r in used] if bare else []
        own = [r for r in self.runs if self.quiet(r, quiet_cores)] or list(self.runs)
        runs = [self.runs[r] for r in own]
        ratio = statistics.median(ratios) if ratios else None
        return {
            "framework": self.framework,
            "endpoint": self.endpoint,
            "variant": self.variant,
            "body_bytes": self.body_bytes,
            "rps_median": statistics.median(r.rps for r in runs) if runs else None,
            "p50_ms_median": statistics.median(r.p50_ms for r in runs) if runs else None,
            "p99_ms_median": statistics.median(r.p99_ms for r in runs) if runs else None,
            "ratio_median": ratio,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "rounds_used": len(used),
            "rounds_quiet": len(calm),
            "rounds_measured": len(self.runs),
            "target": self.target,
            "passed": None if self.target is None or ratio is None else ratio >= self.target,
            "rounds": [
                {
                    "round": rnd + 1,
                    **asdict(run),
                    "rps": run.rps,
                    "foreign_cores": self.foreign.get(rnd),
                    "ratio": run.rps / bare.runs[rnd].rps if bare and rnd in bare.runs else None,
                    "used": rnd in used,
                }
                for rnd, run in sorted(self.runs.items())
            ],
        }


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]], skipped: list[str]) -> str:
    """The report as Markdown: settings, one table, then every skipped variant on one line."""
    server, load = meta["server"], meta["loadgen"]
    threads = f"{load['threads']}t/" if "threads" in load else ""
    lines = [
        f"### Overhead - {meta['finished']}",
        "",
        f"uvicorn {meta['versions']['uvicorn']} (1 worker, loop={server['loop']}, "
        f"http={server['http']}, cpus={server['cpus'] or 'any'}) · {load['name']} "
        f"{threads}{load['connections']}c cpus={load.get('cpus') or 'any'} · "
        f"{meta['rounds']} rounds x {meta['duration_s']:g}s (+{meta['warmup_s']:g}s warm-up) · "
        f"Python {meta['python']} · {meta['cpu_count']} cores",
        "",
        "| framework | endpoint | variant | body B | req/s | p50 ms | p99 ms | vs bare (min..max) | target |",
        "|---|---|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for row in rows:
        ratio = row["ratio_median"]
        spread = f"{ratio:.3f} ({row['ratio_min']:.3f}..{row['ratio_max']:.3f})" if ratio is not None else "-"
        target = "" if row["target"] is None else f">= {row['target']:.2f} "
        verdict = {None: "", True: "pass", False: "**FAIL**"}[row["passed"]]
        lines.append(
            f"| {row['framework']} | {row['endpoint']} | {row['variant']} | {row['body_bytes']} "
            f"| {_num(row['rps_median'], '.0f')} | {_num(row['p50_ms_median'], '.2f')} "
            f"| {_num(row['p99_ms_median'], '.2f')} | {spread} | {target}{verdict} |"
        )

    def name(r: dict[str, Any]) -> str:
        return f"{r['framework']}/{r['endpoint']}/{r['variant']}"

    partial = [f"{name(r)} {r['rounds_quiet']}/{r['rounds_measured']}" for r in rows
               if 0 < r["rounds_quiet"] < r["rounds_measured"]]  # fmt: skip
    if partial:
        lines += [
            "",
            "The machine was busy (foreign CPU load) in some rounds even after retries; ratios use "
            f"the quiet rounds only: {', '.join(partial)}.",
        ]
    noisy = [name(r) for r in rows if r["rounds_quiet"] == 0 and r["rounds_measured"]]
    if noisy:
        lines += [
            "",
            f"**No quiet round at all** for {', '.join(noisy)}: other processes loaded the machine "
            "throughout, so these figures are not fit to quote. Rerun on an idle machine.",
        ]
    wide = [name(r) for r in rows
            if r["ratio_min"] is not None and r["ratio_max"] - r["ratio_min"] > _WIDE_SPREAD]  # fmt: skip
    if wide:
        lines += [
            "",
            f"Per-round ratios spread over {_WIDE_SPREAD:.2f} for {', '.join(wide)}: something else "
            "ran during a round. Medians shrug off one bad round, but rerun on an idle machine "
            "before quoting figures.",
        ]
    if skipped:
        lines += ["", *(f"- {line}" for line in skipped)]
    return "\n".join(lines) + "\n"


def write_json(path: Path, meta: dict[str, Any], rows: list[dict[str, Any]], skipped: list[str]) -> None:
    path.write_text(json.dumps({"meta": meta, "results": rows, "skipped": skipped}, indent=2) + "\n")


def write_chart(path: Path, rows: list[dict[str, Any]]) -> str | None:
    """A bar chart of ratios to bare; returns why not when matplotlib is missing."""
    try:
        import matplotlib as mpl  # noqa: PLC0415  (optional)

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return "matplotlib not installed; no chart"
    measured = [r for r in rows if r["ratio_median"] is not None]
    frameworks = sorted({r["framework"] for r in measured})
    if not measured:
        return "nothing measured; no chart"
    fig, axes = plt.subplots(1, len(frameworks), figsize=(5 * len(frameworks), 3.6), squeeze=False)
    for ax, framework in zip(axes[0], frameworks, strict=True):
        own = [r for r in measured if r["framework"] == framework and r["variant"] != "bare"]
        endpoints = list(dict.fromkeys(r["endpoint"] for r in own))
        variants = list(dict.fromkeys(r["variant"] for r in own))
        width = 0.8 / max(1, len(variants))
        for i, variant in enumerate(variants):
            for j, endpoint in enumerate(endpoints):
                row = next((r for r in own if r["variant"] == variant and r["endpoint"] == endpoint), None)
                if row is None:
                    continue
                x = j + i * width
                err = [
                    [row["ratio_median"] - row["ratio_min"]],
                    [row["ratio_max"] - row["ratio_median"]],
                ]
                ax.bar(x, row["ratio_median"], width, yerr=err, capsize=3, color=f"C{i}",
                       label=variant if j == 0 else None)  # fmt: skip
                if row["target"] is not None:
                    ax.hlines(row["target"], x - width / 2, x + width / 2, colors="k", linestyles="--")
        ax.set_xticks([j + width * (len(variants) - 1) / 2 for j in range(len(endpoints))], endpoints)
        top = max([1.0, *(r["ratio_max"] for r in own)])
        ax.set_ylim(0, top + 0.1)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_title(f"{framework}: req/s relative to bare (dashed: target)")
        if variants:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(variants), fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
