"""The MLflow run a fit is tracked in: the one a resumed checkpoint names, continued; else a new
one, the child of its sweep's parent run when the job belongs to a sweep tracked in the same place."""

import json
import os

from framework.tracking.run_tags import PARENT_ENV
from framework.training.secrets import masked

#: Tags left by the interruption a resume continues from.
STALE_ON_RESUME = ("error_type", "error_message", "resume_checkpoint")


def reattach(client, restored: dict, uri: str):
    """The run the checkpoint state ``restored`` names, RUNNING again, when it is in this store and not
    deleted; else None."""
    if not restored.get("run_id") or restored.get("tracking_uri") != masked(uri):
        return None
    try:
        run = client.get_run(restored["run_id"])
    except Exception:
        return None
    if run.info.lifecycle_stage == "deleted":
        return None
    client.update_run(run.info.run_id, status="RUNNING")
    for key in STALE_ON_RESUME:
        if key in run.data.tags:
            client.delete_tag(run.info.run_id, key)
    return run


def resumed_params(tracked, params: dict, resume_from) -> tuple[dict, dict]:
    """The params a continued run does not have yet, and the tags that say it was resumed (and with
    which params changed: MLflow keeps a param's first value)."""
    logged = tracked.data.params
    changed = {k: [logged[k], v] for k, v in params.items() if k in logged and logged[k] != v}
    tags = {
        "resumed_from": resume_from.source or str(resume_from.path),
        "resume_count": str(int(tracked.data.tags.get("resume_count", "0")) + 1),
    }
    if changed:
        tags["resume_changed_params"] = json.dumps(changed)
    return {k: v for k, v in params.items() if k not in logged}, tags


def known_steps(client, run_id: str) -> set:
    """The epochs the store has for a continued run."""
    try:
        return {metric.step for metric in client.get_metric_history(run_id, "loss")}
    except Exception:
        return set()


def sweep_parent(uri: str, experiment_id) -> dict | None:
    """The sweep's parent run (set by the sweep's Hydra callback), when this job tracks where it does."""
    try:
        parent = json.loads(os.environ.get(PARENT_ENV) or "null")
    except json.JSONDecodeError:
        return None
    if not isinstance(parent, dict):
        return None
    if parent.get("tracking_uri") != uri or str(parent.get("experiment_id")) != str(experiment_id):
        return None  # this job tracks elsewhere than its sweep: no link
    return parent
