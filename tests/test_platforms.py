"""The install floors admit what Colab already ships, so the setup cell upgrades nothing the course does not need."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _floors() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(re.match(r"([A-Za-z0-9_.-]+)>=([\d.]+\w*)", d).groups() for d in deps)


def test_every_floor_is_at_or_below_the_colab_runtime():
    colab = json.loads((ROOT / "data" / "colab_runtime.json").read_text())
    floors = _floors()
    for name, shipped in colab["packages"].items():
        assert name in floors, f"{name} is recorded for Colab but not a dependency"
        assert _version(floors[name]) <= _version(shipped), f"{name}>={floors[name]} would upgrade Colab's {shipped}"
    python_floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert _version(python_floor.lstrip(">=")) <= _version(colab["python"])


def test_requirements_txt_has_the_same_floors_as_pyproject():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = dict(re.match(r"([A-Za-z0-9_.-]+)>=([\d.]+\w*)", line).groups() for line in lines if ">=" in line)
    for name, floor in _floors().items():
        assert pinned.get(name) == floor, f"requirements.txt says {name}>={pinned.get(name)}, pyproject.toml {floor}"


def _pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(re.match(r"([A-Za-z0-9_.-]+)==([\w.]+)", line).groups() for line in lines if "==" in line)


def test_the_oldest_environment_pins_every_floor_of_requirements_txt():
    """make test-oldest installs requirements-oldest.txt: it must be the floors themselves, resolved together."""
    from packaging.version import Version

    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    floors = dict(re.match(r"([A-Za-z0-9_.-]+)>=([\d.]+\w*)", line).groups() for line in lines if ">=" in line)
    pins = {name.lower(): version for name, version in _pins(ROOT / "requirements-oldest.txt").items()}
    for name, floor in floors.items():
        assert name.lower() in pins, f"{name} is missing from requirements-oldest.txt: compile it again (its header)"
        assert Version(pins[name.lower()]) == Version(floor), (
            f"requirements-oldest.txt pins {name}=={pins[name.lower()]} but the floor is {floor}: a floor that cannot "
            "be installed with the others is not a true floor; raise it or compile the file again (its header)")
