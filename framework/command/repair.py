"""Ending runs whose process died without saying so (``kill -9``, a lost machine).

Every run the framework tracks carries the process that runs it as tags
(``framework.host``, ``framework.pid``). ``python -m framework.tracking repair``
finds the runs still RUNNING whose process, on this host, is gone, and ends each
KILLED with a note and, where the run's checkpoint directory holds a ``last.npz``,
the command that resumes it; the ``run.json`` in the run's directory, still RUNNING
by that process, says KILLED too. Runs of other hosts, and live ones, are left alone."""

import shlex
from pathlib import Path

from framework.command.rerun_command import rerun_command
from framework.tracking.run_tags import HOST_TAG, PID_TAG
from framework.training import run_status

NOTE = "its process ended without reporting (killed?); ended by python -m framework.tracking repair"


def _process_gone(tags: dict) -> bool:
    return run_status.process_alive(tags.get(HOST_TAG), tags.get(PID_TAG)) is False


def resume_command(tags: dict, tracking_uri: str) -> str | None:
    """The command that continues a run from its last checkpoint, when the checkpoint is there."""
    directory = tags.get("callbacks.checkpoint.directory")
    last = Path(directory) / "last.npz" if directory else None
    if last is None or not last.is_file():
        return None
    command = rerun_command(tags.get("rerun_of"), tracking_uri) or run_status.TRAIN_COMMAND
    return run_status.resume_command(shlex.split(tags.get("overrides", "")), last, tags.get("output_dir"), command)


def stale_runs(client) -> list:
    """RUNNING runs, in every experiment, whose process on this host is gone."""
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    if not experiments:
        return []
    running = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=10000)
    return [run for run in running if _process_gone(run.data.tags)]


def repair(client) -> list[str]:
    """End every stale run KILLED; one line per run ended."""
    lines = []
    for run in stale_runs(client):
        command = resume_command(run.data.tags, client.tracking_uri)
        client.set_tag(run.info.run_id, "error_message", NOTE)
        client.set_tag(run.info.run_id, "stop_reason", "killed")
        if command:
            client.set_tag(run.info.run_id, "resume_command", command)
        client.set_terminated(run.info.run_id, "KILLED")
        how = f"; resume with: {command}" if command else ""
        lines.append(f"{run.info.run_id} ({run.info.run_name or 'unnamed'}): KILLED{how}{_end_record(run, how)}")
    return lines


def _end_record(run, how: str) -> str:
    """Mark the run's ``run.json`` KILLED when it still says RUNNING by the run's own process; a note
    for the line when it cannot be written."""
    directory = run.data.tags.get("output_dir")
    record = run_status.read_status(directory) if directory else {}
    if record.get("status") != "RUNNING" or str(record.get("pid")) != run.data.tags.get(PID_TAG):
        return ""  # not this run's record (resumed meanwhile, or moved)
    kept = {key: value for key, value in record.items() if key not in ("status", "time", "previous")}
    try:
        run_status.write_status(Path(directory), "KILLED", **{**kept, "error": f"{NOTE}{how}"})
    except OSError as exc:
        return f"; its {run_status.RUN_FILE} still says RUNNING: {exc}"
    return ""
