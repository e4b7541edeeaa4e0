"""Regenerates every gRPC module from proto/ (`scripts/protoc`); a test checks the committed copies.

WHY a module and not only a shell line: each proto's code lives with the component that serves it
(decision 0084): anomaly.proto's in `anomaly/generated/` (`cbamhub.anomaly.generated`, so the
scorer deploys without the gRPC door), the hub's own in `grpc/rpc/generated/`
(`cbamhub.rpc.generated`). protoc writes `import customs_pb2` (a top-level module), which would
not resolve inside an installed package, so every import of a sibling generated module is
rewritten to `from <its package> import ...`. Output is sorted and byte-stable for one
grpcio-tools version; the staleness test ignores only the lines naming that version.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "proto"
HEADER = '"""Code generated from proto/ by scripts/protoc; never edit by hand."""\n'


@dataclass(frozen=True)
class Target:
    """Where one group of protos' modules go: a folder of the repository and its package name."""

    folder: str
    package: str


RPC = Target("grpc/rpc/generated", "cbamhub.rpc.generated")
ANOMALY = Target("anomaly/generated", "cbamhub.anomaly.generated")
TARGETS = (RPC, ANOMALY)
OWNERS = {"anomaly.proto": ANOMALY}
"""The protos that are not the gRPC door's; every other proto's code goes to RPC."""

# `import customs_pb2 as customs__pb2` (in .py) and `import hub_evidence_pb2 as _x` (in .pyi)
_SIBLING_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)
_MODULE_STEM = re.compile(r"^(\w+?)_pb2")

VERSION_LINE = re.compile(
    r"Protobuf Python Version|GRPC_GENERATED_VERSION = |_runtime_version\.ValidateProtobufRuntimeVersion"
    r"|^\s+_runtime_version\.Domain\.PUBLIC,$|^\s+\d+,$|^\s+'',$|^\s+'[\w.]+\.proto'$"
)
"""Lines that name the generator's version (the staleness test compares everything else)."""


def proto_files(proto_dir: Path = PROTO_DIR) -> list[Path]:
    return sorted(proto_dir.glob("*.proto"))


def target_of(proto: Path) -> Target:
    return OWNERS.get(proto.name, RPC)


def _fix_imports(text: str, packages: dict[str, str]) -> str:
    """`packages`: generated module name (e.g. customs_pb2) -> the package it is written into."""

    def replace(match: re.Match[str]) -> str:
        module, alias = match.group(1), match.group(2)
        if module not in packages:
            return match.group(0)
        return f"from {packages[module]} import {module} as {alias}"

    return _SIBLING_IMPORT.sub(replace, text)


def _run_protoc(protos: list[Path], proto_dir: Path, out_dir: Path) -> None:
    include = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(p.name for p in protos),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {[p.name for p in protos]}")


def generate(root: Path, proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Write each target's message modules, .pyi stubs, service modules and `__init__.py` under
    `root` (the repository root for scripts/protoc, a scratch folder for the staleness test)."""
    protos = proto_files(proto_dir)
    if not protos:
        raise FileNotFoundError(f"no .proto files in {proto_dir}")
    packages = {f"{p.stem}_pb2": target_of(p).package for p in protos}
    folders = {p.stem: root / target_of(p).folder for p in protos}
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        _run_protoc(protos, proto_dir, Path(scratch))
        for path in sorted(Path(scratch).glob("*_pb2*.py*")):
            stem = _MODULE_STEM.match(path.name)
            if stem is None or stem.group(1) not in folders:
                raise RuntimeError(f"protoc wrote {path.name}, which no proto in {proto_dir} names")
            out = folders[stem.group(1)] / path.name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(_fix_imports(path.read_text("utf-8"), packages), "utf-8")
            written.append(out)
    for folder in sorted(set(folders.values())):
        (folder / "__init__.py").write_text(HEADER, "utf-8")
        written.append(folder / "__init__.py")
    return written


def comparable(text: str) -> list[str]:
    """A generated file's lines without those that name the generator's version."""
    return [line for line in text.splitlines() if not VERSION_LINE.search(line)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python -m cbamhub.rpc.codegen [REPO_ROOT]", file=sys.stderr)
        return 2
    root = Path(args[0]) if args else REPO_ROOT
    for target in TARGETS:  # a removed or moved proto leaves nothing behind
        for stale in (root / target.folder).glob("*_pb2*.py*"):
            stale.unlink()
    for path in generate(root):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
