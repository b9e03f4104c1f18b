"""``python -m framework.tracking diff <run A> <run B>``: two tracked runs side by side on one
screen: the config keys whose values differ, the final metrics (the monitored one first, marked
``*``), and what each ran with (the framework, its plugins, the git commit, the run's status;
a row that differs marked ``!``). The directories each job wrote are not compared: they differ
from job to job by design."""

from framework.command.logged_run import LoggedRun, read_logged_run
from framework.command.store_runs import open_store
from framework.tracking.params import flatten_config, format_value
from framework.training.secrets import masked

#: The table's columns: a mark and the key, then A's and B's values; 100 characters in all.
KEY_WIDTH, VALUE_WIDTH = 34, 32
LINE_WIDTH = KEY_WIDTH + 2 * VALUE_WIDTH + 2
#: Config rows shown unless ``--all`` is given: with the metrics and versions, about 40 lines in all.
MOST_CONFIG_ROWS = 14
ABSENT = "(absent)"


def diff(tracking_uri: str | None, run_a: str, run_b: str, every_key: bool = False) -> int:
    """Print the comparison of the runs ``run_a`` and ``run_b`` of the store ``tracking_uri``."""
    client, uri = open_store(tracking_uri, "diff")
    a, b = read_logged_run(client, run_a, "run_a"), read_logged_run(client, run_b, "run_b")
    print(_fit(f"store {masked(uri)}", LINE_WIDTH))
    print("\n".join(diff_lines(a, b, every_key)))
    return 0


def diff_lines(a: LoggedRun, b: LoggedRun, every_key: bool = False) -> list[str]:
    """The comparison as lines of at most 100 characters."""
    return [
        _fit(f"A: {a.label}", LINE_WIDTH),
        _fit(f"B: {b.label}", LINE_WIDTH),
        "",
        *config_lines(a, b, every_key),
        "",
        *metric_lines(a, b),
        "",
        *version_lines(a, b),
    ]


def config_differences(a: LoggedRun, b: LoggedRun) -> tuple[list[tuple[str, str, str]], int]:
    """The keys whose values differ, with each run's value as its param shows it, and how many keys
    were compared (every key of either config but the jobs' directories and secrets)."""
    flat_a, flat_b = flatten_config(a.config), flatten_config(b.config)
    keys = sorted((set(flat_a) | set(flat_b)) - a.directory_keys() - b.directory_keys() - {"output_dir"})
    rows = [
        (key, _shown(flat_a, key), _shown(flat_b, key))
        for key in keys
        if key not in flat_a or key not in flat_b or flat_a[key] != flat_b[key]
    ]
    return rows, len(keys)


def config_lines(a: LoggedRun, b: LoggedRun, every_key: bool) -> list[str]:
    rows, compared = config_differences(a, b)
    if not rows:
        return [f"config: identical ({compared} keys; the jobs' directories are not compared)"]
    lines = [f"config: {len(rows)} of {compared} keys differ", _row("key", "A", "B")]
    shown = rows if every_key or len(rows) <= MOST_CONFIG_ROWS else rows[: MOST_CONFIG_ROWS - 1]
    lines += [_row(*row) for row in shown]
    if len(shown) < len(rows):
        lines.append(f"  ... and {len(rows) - len(shown)} more (all of them: --all)")
    return lines


def metric_lines(a: LoggedRun, b: LoggedRun) -> list[str]:
    """Each run's last value of every metric (MLflow's system metrics left out), the monitored first."""
    monitors = {run.config.get("trainer", {}).get("monitor") for run in (a, b)} - {None}
    metrics_a, metrics_b = a.run.data.metrics, b.run.data.metrics
    names = sorted((set(metrics_a) | set(metrics_b)), key=lambda name: (name not in monitors, name))
    names = [name for name in names if not name.startswith("system/")]
    if not names:
        return ["final metrics: none logged"]
    title = f"final metrics (* monitored: {', '.join(sorted(monitors))})" if monitors else "final metrics"
    lines = [title, _row("metric", "A", "B")]
    for name in names:
        mark = "*" if name in monitors else " "
        lines.append(_row(name, _number(metrics_a.get(name)), _number(metrics_b.get(name)), mark=mark))
    return lines


def version_lines(a: LoggedRun, b: LoggedRun) -> list[str]:
    """What each run ran with, and its status; rows that differ marked ``!``."""
    versions_a = a.versions() | {"status": a.run.info.status}
    versions_b = b.versions() | {"status": b.run.info.status}
    labels = list(dict.fromkeys([*versions_a, *versions_b]))
    lines = ["versions (! differs)", _row("", "A", "B")]
    for label in labels:
        value_a, value_b = versions_a.get(label, ABSENT), versions_b.get(label, ABSENT)
        mark = "!" if value_a != value_b else " "
        if label == "git commit":
            value_a, value_b = value_a[:12], value_b[:12]
        if label == "plugins" and mark == "!":  # each run's own: the shared ones would fill the column
            names_a, names_b = set(value_a.split(", ")), set(value_b.split(", "))
            value_a, value_b = (
                f"only: {', '.join(sorted(x - y)) or '-'}" for x, y in ((names_a, names_b), (names_b, names_a))
            )
        lines.append(_row(label, value_a, value_b, mark=mark))
    return lines


def _shown(flat: dict, key: str) -> str:
    return format_value(flat[key]) if key in flat else ABSENT


def _number(value) -> str:
    return "-" if value is None else f"{value:.6g}"


def _row(key: str, value_a: str, value_b: str, mark: str = " ") -> str:
    """``mark``, the key and the two values, each cut to its column's width."""
    cells = (_fit(key, KEY_WIDTH - 2), _fit(value_a, VALUE_WIDTH), _fit(value_b, VALUE_WIDTH))
    return f"{mark} {cells[0]:<{KEY_WIDTH - 2}} {cells[1]:<{VALUE_WIDTH}} {cells[2]}".rstrip()


def _fit(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."
