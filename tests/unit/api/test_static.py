"""The dashboard's static files ship in the package and never reach off the machine."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "src" / "kinetic"
STATIC_DIR = PACKAGE / "api" / "static"


def test_every_static_file_is_package_data() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["kinetic"]
    files = [p.relative_to(PACKAGE).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert "api/static/index.html" in files
    missing = [f for f in files if not any(fnmatch.fnmatchcase(f, pat) for pat in patterns)]
    assert not missing, f"not shipped by [tool.setuptools.package-data]: {missing}"


def test_the_page_loads_nothing_from_another_host() -> None:
    for name in ("index.html", "dashboard.js", "dashboard.css"):
        text = (STATIC_DIR / name).read_text()
        refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", text)
        refs += re.findall(r"""(?:fetch|url)\(\s*["'`]([^"'`]+)""", text)
        remote = [r for r in refs if re.match(r"^(https?:)?//", r)]
        assert not remote, f"{name} loads {remote}: the dashboard must work offline"
    index = (STATIC_DIR / "index.html").read_text()
    for ref in re.findall(r"""(?:src|href)="(static/[^"]+)""", index):
        assert (STATIC_DIR.parent / ref).is_file(), ref
