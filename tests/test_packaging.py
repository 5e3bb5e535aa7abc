"""The distribution is installable by a name of its own (``fastreg`` on PyPI is an unrelated project), while the
import package and the command stay ``fastreg``; the README tells integrators to install it by that name."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

import fastreg

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "wechat-fastreg"


def test_pyproject_names_the_distribution_wechat_fastreg() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"fastreg": "fastreg.cli:app"}


def test_the_installed_distribution_provides_the_fastreg_package_command_and_plugin() -> None:
    dist = distribution(DISTRIBUTION)
    assert dist.version == fastreg.__version__
    entry_points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert entry_points[("console_scripts", "fastreg")] == "fastreg.cli:app"
    assert entry_points[("pytest11", "fastreg.testing")] == "fastreg.testing"


def test_no_distribution_of_the_old_name_is_installed() -> None:
    """A leftover ``fastreg`` distribution would register the pytest plugin a second time."""
    with pytest.raises(PackageNotFoundError):
        distribution("fastreg")


def test_readme_installs_the_distribution_by_its_name() -> None:
    readme = (ROOT / "README.md").read_text()
    first_integrator_section = readme[readme.index("## Testing your third-party platform against fastreg") :]
    first_integrator_section = first_integrator_section[: first_integrator_section.index("\n## ", 1)]
    assert re.search(r"pip install wechat-fastreg\b", first_integrator_section)
    assert "def test_" in first_integrator_section and "```python" in first_integrator_section


def test_readme_test_file_is_the_one_the_suite_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\nfrom urllib.parse import parse_qs, urlparse")
    shown = readme[start + len("```python\n") : readme.index("```\n", start + 10)]
    suite = (ROOT / "tests" / "e2e" / "test_readme_example.py").read_text()
    run = suite[suite.index("from urllib.parse") :].replace("  # type: ignore[no-untyped-def]", "")
    assert shown == run
