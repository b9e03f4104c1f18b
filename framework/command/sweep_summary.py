"""A sweep's summary on its parent run, read from its child runs in the store.

``summary/children.md`` (also the parent's description) and ``summary/children.csv``
list every child best first by the monitored value, with the same values in the same
format: its status (``PRUNED`` for a trial a tuner stopped, with the epoch), its swept
values as its params show them, and its final metrics. ``summary/comparison.png``
draws the monitored value per epoch for every child. The parent gets the best child
(tags ``best_run_id``, ``best_run_name``, ``best.<key>``; metrics ``sweep/best_<metric>``
for the metrics that compare runs) and its children counted by status."""

import csv
import math
import re
import shutil
import tempfile
import time
from pathlib import Path

from framework.tracking.params import MAX_TAG_VALUE_LENGTH, clean_key, format_value, truncate
from framework.tracking.run_tags import PRUNED_SUFFIX
from framework.training.secrets import write_yaml

#: The parent's own metrics, apart from its children's in MLflow's column pickers and charts.
PARENT_PREFIX = "sweep/"
#: A child's values that say how it ran, not how well: no best of them is worth a metric.
NOT_COMPARED = ("lr", "seconds", "epoch")
PRUNED = "PRUNED"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>~])")


def children(client, parent: dict) -> list:
    """The parent's child runs, oldest first."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [parent["experiment_id"]],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent['run_id']}'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def summarize(client, parent: dict, monitor: str, mode: str, multirun_config: dict) -> dict:
    """Write the children table, the best child and the comparison plot to the parent run;
    ``multirun_config`` (redacted) is logged as ``config/multirun.yaml``."""
    keys = list(parent.get("sweep_keys") or [])
    found = children(client, parent)
    rows = ranked([child_row(child, keys) for child in found], monitor, mode)
    best = best_row(rows, monitor, mode)
    metric_names = list(dict.fromkeys(name for row in rows for name in sorted(row["metrics"])))
    columns = table_columns(rows, keys, metric_names)
    directory = Path(tempfile.mkdtemp(prefix="framework-mlflow-sweep-"))
    try:
        write_children_csv(rows, columns, directory / "children.csv")
        best_url = best and f"#/experiments/{parent['experiment_id']}/runs/{best['run_id']}"  # within the UI
        description = markdown(rows, columns, monitor, mode, best, best_url)
        (directory / "children.md").write_text(description, encoding="utf-8")
        client.set_tag(parent["run_id"], "mlflow.note.content", description)
        curves = [monitored_history(client, child, monitor, row) for child, row in _paired(found, rows)]
        comparison_plot(curves, monitor, best and best["run_id"], directory / "comparison.png")
        client.log_artifacts(parent["run_id"], str(directory), "summary")
        client.log_artifact(parent["run_id"], str(write_yaml(multirun_config, directory / "multirun.yaml")), "config")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    metrics, tags = summary_metrics_and_tags(rows, keys, monitor, mode, best)
    client.log_batch(parent["run_id"], metrics=metrics[:1000], tags=tags[:100])
    return {"rows": rows, "best": best, "monitor": monitor, "mode": mode}


def _paired(found: list, rows: list[dict]) -> list:
    by_id = {child.info.run_id: child for child in found}
    return [(by_id[row["run_id"]], row) for row in rows]


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _overrides_of(run) -> dict[str, str]:
    """The job's overrides (``key=value``) from its run name and ``overrides`` tag."""
    import shlex

    found: dict[str, str] = {}
    text = run.data.tags.get("overrides", "")
    try:
        items = shlex.split(text)
    except ValueError:
        items = text.split()
    for item in items + _name(run).split(","):
        key, sep, value = item.partition("=")
        if sep:
            found.setdefault(key.lstrip("+~"), value)
    return found


def _name(run) -> str:
    return (run.info.run_name or "").removesuffix(PRUNED_SUFFIX)


def child_row(child, keys: list[str]) -> dict:
    """A child's name, id, status, job and trial numbers, swept values (``keys``, as its params show
    them) and final metrics; a pruned trial's status is ``PRUNED`` and ``epochs`` says where it stopped."""
    tags, overrides = child.data.tags, _overrides_of(child)
    pruned = child.info.status == "FINISHED" and tags.get("stop_reason") == "pruned"
    row = {
        "run_name": child.info.run_name,
        "run_id": child.info.run_id,
        "status": PRUNED if pruned else child.info.status,  # a tuner's decision, not a failure
        "epochs": tags.get("epochs_completed", ""),
        "job_num": tags.get("job_num", ""),
        "trial_number": tags.get("trial_number", ""),
    }
    for key in keys:
        row[key] = child.data.params.get(key, overrides.get(key, ""))
    row["metrics"] = dict(child.data.metrics)
    return row


def monitored_history(client, child, monitor: str, row: dict) -> dict:
    """A child's curve of the monitored value for the comparison plot; empty if it cannot be read."""
    try:
        history = [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, monitor)]
    except Exception:
        history = []
    return {
        "run_id": child.info.run_id,
        "name": _name(child),
        "history": sorted(history),
        "final": child.data.metrics.get(monitor),
        "pruned": row["status"] == PRUNED,
    }


def best_row(rows: list[dict], monitor: str, mode: str) -> dict | None:
    """The finished (not pruned) row with the best finite monitored value, if any."""
    candidates = [r for r in rows if r["status"] == "FINISHED" and _finite(r["metrics"].get(monitor))]
    if not candidates:
        return None
    pick = max if mode == "max" else min
    return pick(candidates, key=lambda r: r["metrics"][monitor])


def ranked(rows: list[dict], monitor: str, mode: str) -> list[dict]:
    """Best first by the monitored value; runs without a finite value last, in their order."""
    scored = [r for r in rows if _finite(r["metrics"].get(monitor))]
    scored.sort(key=lambda r: r["metrics"][monitor], reverse=mode == "max")
    return scored + [r for r in rows if not _finite(r["metrics"].get(monitor))]


def table_columns(rows: list[dict], keys: list[str], metric_names: list[str]) -> list[str]:
    trials = ["trial_number"] if any(r["trial_number"] for r in rows) else []
    return ["run_name", "run_id", "status", "epochs", "job_num", *trials, *keys, *metric_names]


def cell(row: dict, column: str) -> str:
    """One value of the children table, as both the CSV and the description write it."""
    if column in row:
        value = row[column]
        if column == "status" and value == PRUNED and row.get("epochs"):
            return f"{PRUNED} (epoch {row['epochs']})"
        return value if isinstance(value, str) else format_value(value)
    value = row["metrics"].get(column)
    return "" if value is None else f"{value:.6g}"


def write_children_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([cell(row, column) for column in columns] for row in rows)


def escaped(text: str) -> str:
    """``text`` shown as written in Markdown: no link, emphasis, table cell break or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def markdown(rows: list[dict], columns: list[str], monitor: str, mode: str, best, best_url=None) -> str:
    lines = [f"# Sweep summary: {len(rows)} run(s), monitored value `{monitor}` ({mode}), best first", ""]
    if best is not None:
        name = f"[{escaped(best['run_name'])}]({best_url})" if best_url else escaped(best["run_name"])
        lines += [f"Best: **{name}** (`{best['run_id']}`), {monitor} = {cell(best, monitor)}", ""]
    shown = [c for c in columns if c not in ("run_id", "job_num")]
    lines.append("| " + " | ".join(escaped("run" if c == "run_name" else c) for c in shown) + " |")
    lines.append("| " + " | ".join("---" for _ in shown) + " |")
    for row in rows:
        mark = " **(best)**" if best is not None and row["run_id"] == best["run_id"] else ""
        cells = [escaped(cell(row, column)) for column in shown]
        cells[0] += mark
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary_metrics_and_tags(rows: list[dict], keys, monitor: str, mode: str, best: dict | None) -> tuple[list, list]:
    """The parent's children counted by status, its monitored value and mode, and the best child's
    compared metrics (``sweep/best_<metric>``), id, name and swept values (``best.<key>``)."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    statuses = [r["status"] for r in rows]
    counts = {"children": len(rows)} | {
        f"children_{status.lower()}": statuses.count(status) for status in ("FINISHED", "FAILED", "KILLED", PRUNED)
    }
    metrics = [Metric(f"{PARENT_PREFIX}{name}", float(count), now, 0) for name, count in counts.items()]
    tags = [RunTag("monitor", monitor), RunTag("monitor_mode", mode)]
    if best is not None:
        compared = {k: v for k, v in best["metrics"].items() if k not in NOT_COMPARED and not k.startswith("system/")}
        metrics += [Metric(clean_key(f"{PARENT_PREFIX}best_{k}"), float(v), now, 0) for k, v in compared.items()]
        tags += [RunTag("best_run_id", best["run_id"]), RunTag("best_run_name", best["run_name"] or "")]
        tags += [RunTag(clean_key(f"best.{k}"), truncate(cell(best, k), MAX_TAG_VALUE_LENGTH)) for k in keys]
    return metrics, tags


BEST_COLOR, OTHER_COLOR = "tab:orange", "tab:blue"


def comparison_plot(children: list[dict], monitor: str, best_run_id: str | None, path: Path) -> Path:
    """Left: the monitored value per epoch for every child; right: each child's final value.
    The best child is orange in both panels, every other one blue; a pruned trial (``pruned``) is
    dashed and hatched, and named so: its last value is from the epoch it was stopped at."""
    figure = new_figure(12, 4.8)
    curves, bars = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    names, finals, colors, hatches = [], [], [], []
    for child in children:
        is_best, pruned = child["run_id"] == best_run_id, child.get("pruned", False)
        color, name = BEST_COLOR if is_best else OTHER_COLOR, child["name"] + (" (pruned)" if pruned else "")
        history = child.get("history") or []
        if history:
            steps, values = zip(*history)
            curves.plot(
                steps, values, color=color, marker="x" if pruned else "o", markersize=3, linestyle="--" if pruned else "-",
                linewidth=2.5 if is_best else 1.0, alpha=1.0 if is_best else 0.6, label=name, zorder=3 if is_best else 2,
            )  # fmt: skip
        final = child.get("final")
        if final is not None and math.isfinite(final):
            names.append(name if len(name) <= 40 else name[:37] + "...")
            finals.append(final)
            colors.append(color)
            hatches.append("//" if pruned else "")
    integer_epochs(curves)
    curves.set_ylabel(monitor)
    curves.set_title(f"{monitor} per epoch (best in orange)")
    curves.grid(alpha=0.3)
    if 0 < len(children) <= 12 and curves.get_legend_handles_labels()[1]:
        curves.legend(fontsize=7)
    positions = list(range(len(names)))
    bars.barh(positions, finals, color=colors, hatch=hatches, edgecolor="white")
    bars.set_yticks(positions)
    bars.set_yticklabels(names, fontsize=7)
    bars.invert_yaxis()
    bars.set_xlabel(f"last {monitor} (a pruned trial's at the epoch it stopped)")
    bars.set_title("last value per run (best in orange)")
    bars.grid(alpha=0.3, axis="x")
    return save(figure, path)  # run names of any length: measured, not fixed


def new_figure(width: float, height: float):
    """A matplotlib figure on the Agg canvas: no pyplot, no change to the user's backend, no window."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def integer_epochs(axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def save(figure, path: Path) -> Path:
    """Write ``figure`` as PNG, laid out to fit its labels (PNG compression level 1: written several
    times faster, a few kilobytes larger)."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, pil_kwargs={"compress_level": 1})
    return path
