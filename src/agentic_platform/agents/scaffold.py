"""``agentic agents new NAME``: a team's own agent as a template project to grow from.

The project is a Python package the platform can host both ways the registry reads (an
``agentic_platform.agents`` entry point in its ``pyproject.toml``, or its factory's module
path in ``agents.modules``), an agent implementing the protocol on the :class:`RunContext`
(a model call through the gateway and the calculator), its own test on the scripted ``test``
provider, and a README. The files are the ``*.tmpl`` files beside this module, filled in with
:class:`string.Template`.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from agentic_platform import __version__
from agentic_platform.agents.registry import BUILTIN_AGENTS, ENTRY_POINT_GROUP

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MAX_NAME = 63

# template file → where it goes in the project (``{package}`` is the import package)
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "agent.py.tmpl": "src/{package}/agent.py",
    "test_agent.py.tmpl": "tests/test_agent.py",
}


class ScaffoldRefused(ValueError):
    """The name or the place cannot take a new project; the message says what to change."""


@dataclass(frozen=True)
class AgentProject:
    name: str
    """The agent's name: the API path segment, the ``agent:<name>`` model, the distribution."""
    package: str
    """The import package (``name`` with underscores)."""
    directory: Path
    created: tuple[Path, ...]


def check_name(name: str) -> str:
    """``name``'s import package, or :class:`ScaffoldRefused` saying what is wrong with it."""
    if not _NAME.match(name) or len(name) > MAX_NAME:
        raise ScaffoldRefused(
            f"'{name}' cannot name an agent: use lowercase letters, digits and single dashes, "
            f"starting with a letter, at most {MAX_NAME} characters (e.g. 'ticket-triage')"
        )
    if name in BUILTIN_AGENTS:
        raise ScaffoldRefused(f"'{name}' is a built-in agent of the platform: pick another name")
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or importlib.util.find_spec(package) is not None:
        raise ScaffoldRefused(
            f"'{name}' would make a package '{package}' that clashes with an existing Python "
            "module: pick another name"
        )
    return package


def new_agent_project(name: str, directory: Path | None = None) -> AgentProject:
    """Write the template project for ``name`` into ``directory`` (default ``./<name>``),
    which must not exist yet or be empty."""
    package = check_name(name)
    target = (directory if directory is not None else Path(name)).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldRefused(
            f"{target} already exists and is not an empty directory: choose another --path"
        )
    values = {
        "name": name,
        "package": package,
        "title": " ".join(part.capitalize() for part in name.split("-")),
        "class_name": "".join(part.capitalize() for part in name.split("-")) + "Agent",
        "entry_point_group": ENTRY_POINT_GROUP,
        "platform_version": __version__,
    }
    templates = files("agentic_platform.agents") / "template"
    created = []
    for source, destination in LAYOUT.items():
        path = target / destination.format(package=package)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template((templates / source).read_text(encoding="utf-8")).substitute(values)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    return AgentProject(name, package, target, tuple(created))
