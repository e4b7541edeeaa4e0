"""`import grpc` must always mean the grpcio library, from wherever Python starts.

The repository has a top-level folder named `grpc/` (the hub's gRPC servers). Python puts
the current directory first on sys.path for `python -c`, so were that folder a regular
package (an `__init__.py` in it) it would shadow grpcio for anyone running from the repo
root. This test starts Python from every directory of the repo and checks which `grpc`
it gets.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GRPC_FOLDER = REPO_ROOT / "grpc"

# Directories not walked: virtualenvs, VCS data, runtime state, caches, build output.
SKIP_DIRS = {
    ".venv",
    "venv",
    ".git",
    "var",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".cache",
    ".tox",
    ".nox",
    "htmlcov",
    "build",
    "dist",
}

PROBE = (
    "import grpc, sys; "
    "print(grpc.__file__); "
    "print(callable(getattr(grpc, 'insecure_channel', None)))"
)


def _repo_directories() -> list[Path]:
    dirs = []
    for current, subdirs, _files in os.walk(REPO_ROOT):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        dirs.append(Path(current))
    return dirs


def _grpcio_init() -> Path:
    dist = importlib.metadata.distribution("grpcio")
    return Path(str(dist.locate_file("grpc/__init__.py"))).resolve()


def _probe_env() -> dict[str, str]:
    env = dict(os.environ)
    # PYTHONSAFEPATH would keep the cwd off sys.path and make this test vacuous.
    env.pop("PYTHONSAFEPATH", None)
    return env


def _check_probe(d: Path, returncode: int, out: str, err: str, expected: Path) -> list[str]:
    where = d.relative_to(REPO_ROOT).as_posix() or "."
    if returncode != 0:
        return [f"{where}: `import grpc` failed:\n{err.strip()}"]
    lines = out.strip().splitlines()
    if len(lines) != 2:
        return [f"{where}: unexpected output {out!r}"]
    grpc_file, has_channel = lines
    if grpc_file == "None" or Path(grpc_file).resolve() != expected:
        return [f"{where}: `import grpc` gave {grpc_file}, not grpcio's {expected}"]
    if has_channel != "True":
        return [f"{where}: grpc.insecure_channel is missing"]
    return []


def test_grpc_folder_is_not_a_regular_package() -> None:
    assert GRPC_FOLDER.is_dir(), "the top-level grpc/ folder is missing"
    assert not (GRPC_FOLDER / "__init__.py").exists(), (
        "grpc/__init__.py must not exist: it would shadow grpcio when Python runs from the repo root"
    )


def test_import_grpc_is_grpcio_from_every_directory() -> None:
    expected = _grpcio_init()
    assert expected.is_file(), f"grpcio is not installed where its metadata says: {expected}"
    assert "site-packages" in expected.parts

    directories = _repo_directories()
    assert REPO_ROOT in directories
    assert GRPC_FOLDER in directories
    assert len(directories) < 500, "walked too many directories; add the new cache to SKIP_DIRS"

    env = _probe_env()
    failures = []
    # One process per directory, started a batch at a time and run side by side.
    for start in range(0, len(directories), 8):
        running = [
            (
                d,
                subprocess.Popen(
                    [sys.executable, "-c", PROBE],
                    cwd=d,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for d in directories[start : start + 8]
        ]
        for d, proc in running:
            out, err = proc.communicate(timeout=120)
            failures.extend(_check_probe(d, proc.returncode, out, err, expected))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("where", [".", "grpc"])
def test_import_grpc_from_repo_root_and_grpc_folder(where: str) -> None:
    cwd = REPO_ROOT / where
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=cwd,
        env=_probe_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    grpc_file, has_channel = result.stdout.strip().splitlines()
    path = Path(grpc_file).resolve()
    assert path == _grpcio_init()
    assert "site-packages" in path.parts
    assert GRPC_FOLDER not in path.parents
    assert has_channel == "True"
