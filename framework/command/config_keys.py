"""The keys the project's config files define, and the closest one to a misspelled key."""

import difflib
import functools


def closest_key(key: str, keys) -> str | None:
    """``key`` with each misspelled segment replaced by the closest one at that level, if that is a key."""
    parts = key.split(".")
    for level, part in enumerate(parts):
        above = parts[:level]
        options = {k.split(".")[level] for k in keys if k.split(".")[:level] == above and k.count(".") >= level}
        if part not in options:
            close = difflib.get_close_matches(part, sorted(options), n=1, cutoff=0.75)
            if not close:
                return None
            parts[level] = close[0]
    candidate = ".".join(parts)
    return candidate if candidate != key and candidate in keys else None


@functools.cache
def known_keys() -> tuple[str, ...]:
    """Every dotted key the project's config files define, in any option of any group."""
    from omegaconf import OmegaConf

    from framework.command.paths import conf_dir

    keys: set[str] = set()
    root = conf_dir()
    for path in root.rglob("*.yaml"):
        relative = path.relative_to(root)
        if relative.parts[0] == "hydra":
            continue
        text = path.read_text(encoding="utf-8")
        node = OmegaConf.to_container(OmegaConf.create(text), resolve=False) or {}
        glued = "@package _global_" in text or len(relative.parts) == 1
        keys.update(_dotted(node, "" if glued else f"{relative.parts[0]}."))
    return tuple(sorted(key for key in keys if not key.startswith(("hydra", "defaults"))))


@functools.cache
def known_sections() -> frozenset[str]:
    """The top-level sections: the config groups and the primary config's own keys (cheap:
    one directory listing and one file, as every run checks its sections)."""
    from omegaconf import OmegaConf

    from framework.command.paths import conf_dir

    root = conf_dir()
    groups = {path.name for path in root.iterdir() if path.is_dir()}
    primary = OmegaConf.to_container(OmegaConf.load(root / "config.yaml"), resolve=False) or {}
    return frozenset((groups | set(primary)) - {"hydra", "defaults"})


def _dotted(node, prefix: str) -> set[str]:
    if not isinstance(node, dict):
        return {prefix.rstrip(".")} if prefix else set()
    found = {prefix.rstrip(".")} if prefix else set()
    for key, value in node.items():
        found |= _dotted(value, f"{prefix}{key}.")
    return found
