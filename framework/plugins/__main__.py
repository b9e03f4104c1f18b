"""``python -m framework.plugins``: every plugin and every registered name.

Lists each plugin (name, distribution, version, the hooks it implements, the
config directories it ships; built-ins marked), then every registered name of
every kind with the plugin and distribution it comes from (a name several plugins
register is shown qualified, ``<plugin>:<name>``, and the collisions are listed at
the end with what the bare name means). ``--json`` prints the
same data as JSON (schema in ``docs/plugins.md``). A plugin that cannot be
loaded is reported in one line on stderr, with exit status 1.
"""

import argparse
import json
import sys

import framework
from framework.core.errors import FrameworkError
from framework.plugins.config_options import ConfigOptions, config_dirs_by_plugin
from framework.plugins.manager import BUILTIN_PLUGINS, KINDS, Plugins, build_plugins
from framework.plugins.registry import Entry


def collect(plugins: Plugins) -> dict:
    """The listing as plain data: what ``--json`` prints."""
    config_dirs: dict[str, list[str]] = {}
    for directory, plugin_name in config_dirs_by_plugin(plugins):
        config_dirs.setdefault(plugin_name, []).append(str(directory))
    listed = []
    for name, origin in plugins.origins.items():
        if plugins.manager.get_plugin(name) is None:
            continue
        listed.append(
            {
                "name": name,
                "distribution": origin.distribution,
                "version": origin.version,
                "builtin": name in BUILTIN_PLUGINS,
                "hooks": plugins.plugin_hooks(name),
                "config_dirs": config_dirs.get(name, []),
            }
        )
    blocked = sorted(name for name, plugin in plugins.manager.list_name_plugin() if plugin is None)
    return {
        "framework_version": framework.__version__,
        "blocked": blocked,
        "plugins": listed,
        "registries": {
            kind: [_entry_fields(entry) for entry in plugins.registry(kind).entries()] for kind in KINDS.values()
        },
        "collisions": _collisions(plugins),
    }


def _entry_fields(entry: Entry) -> dict:
    origin = entry.origin
    return {
        "name": entry.name,
        "qualified": entry.qualified,
        "bare": entry.owns_name,
        "class": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
        "plugin": origin.plugin,
        "distribution": origin.distribution,
        "version": origin.version,
    }


def _collisions(plugins: Plugins) -> list[dict]:
    """Every name that several plugins register, or config option that several plugins ship: its
    qualified names, and what the bare name means (None: it is ambiguous, refused where used)."""
    found = []
    for kind in KINDS.values():
        registry = plugins.registry(kind)
        for name, qualified in registry.collisions().items():
            owner = registry.entry(name).qualified if name in registry else None
            found.append({"kind": kind, "name": name, "qualified": qualified, "bare": owner})
    for option, qualified in ConfigOptions.of(plugins).collisions().items():
        found.append({"kind": "config option", "name": option, "qualified": qualified, "bare": None})
    return found


def render(data: dict) -> str:
    """The listing as text."""
    lines = [f"framework {data['framework_version']}", "", f"Plugins ({len(data['plugins'])}):"]
    for plugin in data["plugins"]:
        mark = "  (built-in)" if plugin["builtin"] else ""
        lines.append(f"  {plugin['name']}  [{plugin['distribution']} {plugin['version']}]{mark}")
        lines.append(f"      hooks: {', '.join(plugin['hooks']) or '-'}")
        for directory in plugin["config_dirs"]:
            lines.append(f"      config dir: {directory}")
    if data["blocked"]:
        lines.append(f"Blocked: {', '.join(data['blocked'])}")
    for kind, entries in data["registries"].items():
        lines.append("")
        lines.append(f"{kind} ({len(entries)}):")
        width = max((len(entry["name"]) for entry in entries), default=0)
        qualified_width = max((len(entry["qualified"]) for entry in entries), default=0)
        for entry in entries:
            note = "" if entry["bare"] else f"  (not {entry['name']!r}: see below)"
            lines.append(
                f"  {entry['name']:<{width}}  {entry['qualified']:<{qualified_width}}  "
                f"{entry['plugin']} [{entry['distribution']} {entry['version']}]{note}"
            )
        if not entries:
            lines.append("  (none)")
    if data["collisions"]:
        lines += ["", "Names several plugins register (qualified <plugin>:<name> always works):"]
        lines += [f"  {_collision_line(collision)}" for collision in data["collisions"]]
    return "\n".join(lines)


def _collision_line(collision: dict) -> str:
    choices = ", ".join(collision["qualified"])
    if collision["bare"] is None:
        meaning = "ambiguous: write a qualified name"
    else:
        meaning = f"means {collision['bare']}"
    return f"{collision['kind']} {collision['name']!r}: {choices} (the bare name {meaning})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m framework.plugins",
        description="List the framework's plugins and every name they register.",
    )
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.add_argument(
        "--no-autoload",
        action="store_true",
        help="do not load installed plugins (entry points); like FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD=1",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="PLUGIN",
        help="block the plugin with this name (repeatable); like FRAMEWORK_DISABLE_PLUGINS=PLUGIN",
    )
    args = parser.parse_args(argv)
    try:
        plugins = build_plugins(autoload=False if args.no_autoload else None, disable=args.disable)
        data = collect(plugins)
    except FrameworkError as exc:
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
