"""``trainer.resume=runs:/<run id>[/<artifact path>]``: a checkpoint a tracked run uploaded,
fetched from the store the run's config tracks to, before anything else is done, into
``<output_dir>/.resume/<run id>/<artifact path>``; the usual local resume then reads it.

Without a path, the run's latest checkpoint: of its ``checkpoints/last.npz`` and its
newest ``checkpoints/epoch-NNNN.npz`` (by the number in the name), the one furthest into
training by its manifest (a ``last.npz`` written mid-epoch is ahead of its epoch's file);
the order the store lists them in plays no part.

Each download goes to a temporary directory beside its place, is checked (its size against
the store's listing, its content as a checkpoint) and only then renamed into place; a
failure removes it. Every refusal is one line starting with ``trainer.resume=<value>``."""

import contextlib
import filecmp
import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from framework.command.store_check import TRAINING_OPTION, Refused
from framework.command.store_runs import find_run, open_store, split_run_uri
from framework.core.errors import ConfigError, FrameworkError
from framework.tracking.operations import short_error
from framework.tracking.run_tags import HOST_TAG, PID_TAG
from framework.training.callbacks.checkpoint import EPOCH_FILE, LAST
from framework.training.checkpoint import Checkpoint, read_checkpoint
from framework.training.run_status import process_alive
from framework.training.secrets import masked

#: Where in a run's output directory the checkpoints fetched from a store are kept.
CACHE = ".resume"
#: The artifact folder a tracked run uploads its checkpoints to (``framework/tracking/logger.py``).
FOLDER = "checkpoints"
#: The checkpoints a refusal names at most.
SHOWN = 6
LOCAL_FIX = "resume from a checkpoint file instead (trainer.resume=<run dir>/checkpoints/last.npz)"
#: Why a run has no checkpoints in its store, by its status; checkpoints are uploaded when a run ends.
NO_UPLOAD = {
    "RUNNING": "it is still running, or its process died (kill -9, a lost node) before it could upload them",
    "FAILED": "a run that fails uploads none (its last good checkpoint stays in its run directory)",
}
AFRESH = "start a new run without trainer.resume"


def no_checkpoints(status: str, params: dict) -> str:
    """Why a run has no checkpoints in its store, by its params and its status, and the way out."""
    if params.get("callbacks.checkpoint") == "null":
        return f"it ran without checkpoints (callbacks.checkpoint=null), so it cannot be continued; {AFRESH}"
    if params.get("logger.log_checkpoints") == "false":
        return f"it kept them on its machine (logger.log_checkpoints=false); {LOCAL_FIX}, or {AFRESH}"
    return f"{NO_UPLOAD.get(status, 'it uploaded none')}; {LOCAL_FIX}, or {AFRESH}"


def fetch_checkpoint(value: str, tracking_uri: str | None, launch_dir: Path, output_dir: Path) -> Checkpoint:
    """The checkpoint ``value`` (``runs:/<id>[/<path>]``) names, from the store ``tracking_uri``
    names (else ``$MLFLOW_TRACKING_URI``, else ``<launch_dir>/mlflow.db``), kept in ``output_dir``;
    its ``source`` is the URI that names it exactly (``runs:/<id>/<path>``)."""
    key = f"trainer.resume={value}"
    run_id, artifact = split_run_uri(value, "trainer.resume")
    client, uri = open_store(tracking_uri, key, launch_dir, TRAINING_OPTION)
    source = _Source(client, find_run(client, run_id, key), uri, key)
    source.refuse_live()
    cache = Path(output_dir) / CACHE / run_id
    with _scratch_directory(cache, key) as scratch:
        name, checkpoint = source.download(source.listed(artifact), scratch) if artifact else source.latest(scratch)
        path = _into_place(checkpoint.path, cache / name, key)
    return replace(checkpoint, path=path, source=f"runs:/{run_id}/{name}")


@dataclass(frozen=True)
class _Source:
    """One run in its store, and how to say what goes wrong fetching its checkpoints."""

    client: object
    run: object
    uri: str
    key: str

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def refuse_live(self) -> None:
        """Two processes would write to one run: refused while the run's process is alive on this machine."""
        tags = self.run.data.tags
        if self.run.info.status == "RUNNING" and process_alive(tags.get(HOST_TAG), tags.get(PID_TAG)):
            raise Refused(
                f"{self.key}: run {self.run_id} is still running on this machine (pid {tags[PID_TAG]}), and two "
                f"processes would write to it; let it finish, or stop it (kill -TERM {tags[PID_TAG]}: it uploads "
                "its checkpoint), then resume"
            )

    @property
    def store(self) -> str:
        return masked(self.uri)

    def listed(self, artifact: str):
        """The store's entry for the file ``artifact`` of the run, or :class:`Refused` naming its checkpoints."""
        folder = posixpath.dirname(artifact)
        entry = next((e for e in self._list(folder or None) if e.path == artifact), None)
        if entry is not None and not entry.is_dir:
            return entry
        what = "a folder, not a file" if entry is not None else "not among its artifacts"
        raise Refused(
            f"{self.key}: {artifact} of run {self.run_id} in {self.store} is {what}; {self._choices()}, or give "
            f"runs:/{self.run_id} for its latest checkpoint"
        )

    def latest(self, scratch: Path) -> tuple[str, Checkpoint]:
        """The run's checkpoint furthest into training (see the module docstring)."""
        run, files = self.run, self._checkpoint_files()
        if not files:
            raise Refused(
                f"{self.key}: run {self.run_id} in {self.store} ({run.info.status}) has no checkpoints among its "
                f"artifacts ({FOLDER}/*.npz): {no_checkpoints(run.info.status, run.data.params)}"
            )
        numbered = [entry for entry in files if _epoch_file(entry.path)]
        newest = sorted(numbered, key=lambda entry: int(_epoch_file(entry.path)[1]))[-1:]
        candidates = [entry for entry in files if posixpath.basename(entry.path) == LAST] + newest or files
        best = None
        for entry in candidates:
            match = _epoch_file(entry.path)
            if best is not None and match and int(match[1]) <= _position(best[1])[0]:
                continue  # last.npz is already as far as this epoch's file: no second download
            fetched = self.download(entry, scratch)
            if best is None or _position(fetched[1]) > _position(best[1]):
                best = fetched
        return best

    def download(self, entry, scratch: Path) -> tuple[str, Checkpoint]:
        """``entry`` downloaded into ``scratch`` and read as a checkpoint; its artifact path with it."""
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        source = f"{self.run.info.artifact_uri.rstrip('/')}/{entry.path}"  # not runs:/..., which hides why it failed
        try:
            target = Path(download_artifacts(artifact_uri=source, dst_path=str(scratch), tracking_uri=self.uri))
        except (MlflowException, OSError) as exc:
            raise Refused(
                f"{self.key}: the download of {entry.path} from {self.store} stopped ({_cause(exc)}); "
                "nothing was kept: run the command again when the store answers"
            ) from exc
        size = target.stat().st_size if target.is_file() else 0
        if entry.file_size is not None and size != entry.file_size:
            raise Refused(
                f"{self.key}: the download of {entry.path} from {self.store} was cut short ({size} of "
                f"{entry.file_size} bytes); nothing was kept: run the command again when the store answers"
            )
        try:
            return entry.path, read_checkpoint(target)
        except FrameworkError as exc:
            said, _, fix = str(exc).removeprefix(f"{target}: ").rpartition("; ")
            reason = said or fix  # its own fix is for a local file
            raise ConfigError(
                f"{self.key}: {entry.path} of run {self.run_id} in {self.store} cannot be resumed from ({reason}); "
                f"{self._choices()}"
            ) from exc

    def _checkpoint_files(self) -> list:
        return [entry for entry in self._list(FOLDER) if not entry.is_dir and entry.path.endswith(".npz")]

    def _choices(self) -> str:
        """The way out: the run's checkpoints by name, or a local file when it has none."""
        names = sorted((posixpath.basename(entry.path) for entry in self._checkpoint_files()), key=_newest_first)
        if not names:
            return f"the run has no checkpoints in {FOLDER}/: {LOCAL_FIX}"
        more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        listed = ", ".join(names[:SHOWN]) + more
        return f"resume from one of its checkpoints (runs:/{self.run_id}/{FOLDER}/<name>: {listed})"

    def _list(self, folder: str | None) -> list:
        from mlflow.exceptions import MlflowException

        try:
            return list(self.client.list_artifacts(self.run_id, folder))
        except (MlflowException, OSError) as exc:
            raise Refused(
                f"{self.key}: {self.store} did not list the run's artifacts ({_cause(exc)}); "
                "run the command again when the store answers"
            ) from exc


def _newest_first(name: str) -> tuple:
    """``last.npz`` and ``best.npz`` first, then the epoch files from the highest epoch down."""
    match = _epoch_file(name)
    return (1, -int(match[1]), name) if match else (0, int(name != LAST), name)


def _epoch_file(path: str):
    return EPOCH_FILE.fullmatch(posixpath.basename(path))


def _cause(error: BaseException) -> str:
    """What went wrong, in a few words: MLflow lists a failed download's error under a header."""
    said = [
        line for line in str(error).splitlines() if line.strip() and not line.startswith(("#####", "The following"))
    ]
    text = said[0] if said else str(error)
    wrapped = re.match(r"\('(.+?)', ", text)  # urllib3's (message, error), as requests passes it on
    return short_error(wrapped[1] if wrapped else text, limit=160)


def _position(checkpoint: Checkpoint) -> tuple[int, int]:
    """How far into training ``checkpoint`` is: epochs completed, then batches of the next one."""
    manifest = checkpoint.manifest
    return int(manifest.get("completed_epochs", 0)), int(manifest.get("batches_done", 0) or 0)


@contextlib.contextmanager
def _scratch_directory(cache: Path, key: str):
    """A temporary directory inside ``cache`` (created as needed), removed at the end with every
    directory it took to make it that is left empty."""
    made = [parent for parent in (cache, *cache.parents) if not parent.exists()]
    try:
        cache.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    except OSError as exc:
        raise ConfigError(
            f"{key}: {cache} cannot be created to hold the checkpoint ({exc.strerror or exc}); "
            "make the run's output directory writable, or choose another (hydra.run.dir=<dir>)"
        ) from exc
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for directory in made:  # nearest first
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when empty: a kept download stays


def _into_place(downloaded: Path, target: Path, key: str) -> Path:
    """``downloaded`` renamed to ``target``, which may already hold the same bytes (fetched
    before); a different file there is never replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not filecmp.cmp(downloaded, target, shallow=False):
        raise ConfigError(
            f"{key}: {target} already holds another file, which is left as it is; move it aside, "
            "or resume into another directory (leave out hydra.run.dir)"
        )
    os.replace(downloaded, target)
    return target
