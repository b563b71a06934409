"""What `pip install stackdef` puts on a user's machine: every package and data file, under the
stackdef namespace only (no top-level `providers` / `blueprints` to collide with theirs)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.util import REPO


def test_package_list_covers_every_package_folder() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    dirs = cfg["package-dir"]
    found = set()
    for name, folder in dirs.items():
        root = REPO / folder
        for init in [*root.rglob("__init__.py"), *root.rglob("__main__.py")]:
            rel = init.parent.relative_to(root)
            sub = ".".join((name, *rel.parts)) if rel.parts else name
            if not any(sub.startswith(other + ".") or sub == other for other in dirs if other != name and len(other) > len(name)):
                found.add(sub)
    assert listed == found


def test_wheel_holds_the_data_and_no_top_level_collisions(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("stackdef-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"stackdef"}
    for needed in (
        "stackdef/catalog/data/gpu_prices.csv",
        "stackdef/catalog/data/cpu_prices.csv",
        "stackdef/catalog/data/models.csv",
        "stackdef/templates/plan.md.j2",
        "stackdef/providers/eks.py",
        "stackdef/blueprints/reference/stack.py",
        "stackdef/blueprints/reference/app/sentiment.py",
        "stackdef/catalog/data/storage_prices.csv",
        "stackdef/templates/feast/feature_store.yaml.j2",
        "stackdef/templates/feast/definitions.py.j2",
        "stackdef/runtime/validate.py",
    ):
        assert needed in names, needed


def test_every_module_imports_first() -> None:
    # Each module imported alone, in a fresh interpreter: an import cycle that only bites when a
    # plug-in or a user imports, say, stackdef.compile.ray before anything else shows up here.
    import pkgutil
    from concurrent.futures import ThreadPoolExecutor

    import stackdef

    names = sorted(m.name for m in pkgutil.walk_packages(stackdef.__path__, "stackdef.") if not m.name.endswith("__main__"))
    assert len(names) > 40

    def first_import(name: str) -> tuple[str, int, str]:
        p = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=REPO)
        return name, p.returncode, p.stderr[-600:]

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [r for r in pool.map(first_import, names) if r[1] != 0]
    assert not failed, "\n".join(f"{n}: {err}" for n, _, err in failed)


def test_the_runtime_image_recipe_installs_what_its_pods_run(tmp_path: Path) -> None:
    """The Dockerfile's install step, run here: the wheel with its runtime extra, under the same
    pins, in an empty venv; then the three programs the data layer's pods start (there is no
    Docker engine to build the image itself)."""
    from stackdef.layers.data.resolve import RUNTIME_UID

    dockerfile = (REPO / "Dockerfile").read_text()
    bases = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert bases and all(b == "${PYTHON_IMAGE}" for b in bases)
    (arg,) = [line for line in dockerfile.splitlines() if line.startswith("ARG PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert ":" in image and not image.endswith(":latest")
    assert f"USER {RUNTIME_UID}" in dockerfile and f"--uid {RUNTIME_UID}" in dockerfile
    assert "-c /tmp/constraints.txt" in dockerfile and "[runtime," in dockerfile

    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("stackdef-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"), f"{wheel}[runtime]"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for argv in ([str(py), "-m", "stackdef.runtime.validate", "--help"], [str(venv / "bin" / "feast"), "version"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    done = subprocess.run([str(py), "-c", "import pandera, psycopg, prometheus_client, redis, feast; print(feast.__version__)"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "0.67.0", done.stderr[-2000:]
