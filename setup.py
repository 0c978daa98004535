"""The build step that puts the repository's `openapi.yaml` and `scenarios/` into the wheel.

They stay where they are, the only source. A wheel (and so `pip install .`, `pipx install`) gets
copies in `mockserver/data/`, which `mockserver.core.settings` serves when installed; a source checkout
and an editable install serve the repository's files themselves. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGED = ("openapi.yaml", "scenarios/*.yaml", "schemathesis.toml")
"""The repository's files the wheel carries, relative to this directory."""
TARGET = Path("mockserver", "data")


def packaged_files() -> list[Path]:
    return sorted(path for pattern in PACKAGED for path in Path().glob(pattern) if path.is_file())


class BuildWithData(build_py):
    """build_py, plus copies of PACKAGED in `mockserver/data/` (nothing in an editable install)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, TARGET)
        shutil.rmtree(target, ignore_errors=True)  # a scenario deleted since the last build stays out
        for source in packaged_files():
            self.mkpath(str(target / source.parent))
            self.copy_file(str(source), str(target / source))

    def get_source_files(self) -> list[str]:
        """What the sdist must hold to build this wheel again."""
        return [*super().get_source_files(), *map(str, packaged_files())]


setup(cmdclass={"build_py": BuildWithData})
