"""The run's model in MLflow: its name (after the run's), and registering it in the
Model Registry (``logger.register_as=<name>``).

Each run adds a version of the registered model; the version's ``run_id`` and its tags
(``run_id``, ``run_name``) link it back to the run. Registering is safe to repeat: a run
that already has a version of the model gets no second one (a replayed spool, an upload
sent twice). The logger sends it after the run is marked FINISHED, so a registry that
refuses it costs the run nothing.
"""

import re


class RegistryRefused(Exception):
    """The registry answered and refused: sending it again cannot help (unlike an outage)."""


#: What a registered model's name may hold, so that ``models:/<name>/<version>`` loads it.
NAME_CHARACTERS = "letters, digits, spaces inside the name and . _ - + = ,"
_NAME_UNSAFE_CHARACTER = re.compile(r"[^\w .+=,-]")
#: A logged model's name may not hold ``/ : . % " '``; names here keep letters, digits and ``_ = , + -``.
_NAME_UNSAFE = re.compile(r"[^\w=,+-]+")


def model_name(run_name: str | None) -> str:
    """The logged model's name for a run called ``run_name``: each run of other characters
    becomes a ``-`` (``optimizer.lr=0.1,seed=1``: ``optimizer-lr=0-1,seed=1``); ``model`` when
    nothing is left."""
    name = _NAME_UNSAFE.sub("-", run_name or "").strip("-")[:100]
    return name or "model"


def check_registered_name(owner: str, value) -> str | None:
    """``value`` when it can name a registered model (or is null); else one line naming the key."""
    from framework.core.errors import InvalidValueError

    problem = registered_name_error(value)
    if problem is not None:
        raise InvalidValueError(f"{owner}: register_as must be a registered model's name: {problem}", "register_as")
    return value


def registered_name_error(value) -> str | None:
    """What is wrong with ``value`` as a registered model's name, and the fix, in one line;
    None when ``models:/<value>/<version>`` can address it (or it is null): not empty, no
    space at its ends, only the characters of :data:`NAME_CHARACTERS` (``/`` would split the
    URI, ``?`` and ``#`` end its path, ``%`` escapes, ``:`` and ``/`` MLflow refuses)."""
    fix = f"use only {NAME_CHARACTERS} (e.g. digits-net), or null"
    if value is None:
        return None
    if not isinstance(value, str):
        return f"expected a name, got the {type(value).__name__} {value!r}; quote it ('{value}'), or {fix}"
    if not value.strip():
        return f"a registered model's name cannot be empty; {fix}"
    if value != value.strip():
        return f"space at its ends would be part of the name, and models:/ URIs lose it; {fix}"
    unsafe = sorted(set(_NAME_UNSAFE_CHARACTER.findall(value)))
    if unsafe:
        listed = " ".join(repr(character) for character in unsafe)
        return f"models:/<name>/<version> cannot address a name holding {listed}; {fix}"
    if value == "." or value.startswith(".."):
        return f"MLflow treats a name as a path, and {value!r} would leave its directory; {fix}"
    return None


def register_model(client, run_id: str, model_name: str, registered_name: str):
    """A new version of ``registered_name`` from the model ``model_name`` logged by run ``run_id``
    (or the version this run already has); returns the ``ModelVersion``."""
    from mlflow.exceptions import MlflowException

    from framework.tracking.pyfunc import logged_model_id

    for version in client.search_model_versions(f"name = '{_quoted(registered_name)}' and run_id = '{run_id}'"):
        return version
    model_id = logged_model_id(client, run_id, model_name)
    if model_id is None:
        raise MlflowException(f"run {run_id} has no logged model {model_name!r} to register")
    try:
        client.create_registered_model(registered_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    run = client.get_run(run_id)
    return client.create_model_version(
        registered_name,
        # The model's own location: a ``models:/<id>`` source makes a SQL store look the model up in
        # the process's default tracking store, not in this client's.
        source=client.get_logged_model(model_id).artifact_location,
        run_id=run_id,
        tags={"run_id": run_id, "run_name": run.info.run_name or ""},
        model_id=model_id,
    )


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")
