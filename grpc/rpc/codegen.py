"""Regenerates cbamhub.rpc.generated from proto/ (`scripts/protoc`); a test checks the committed copy.

WHY a module and not only a shell line: protoc writes `import customs_pb2` (a top-level module),
which would not resolve inside the installed package, so every import of a sibling generated module
is rewritten to `from cbamhub.rpc.generated import ...`. Output is sorted and byte-stable for one
grpcio-tools version; the staleness test ignores only the lines naming that version.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_DIR = Path(__file__).resolve().parents[2] / "proto"
GENERATED_PACKAGE = "cbamhub.rpc.generated"
HEADER = '"""Code generated from proto/ by scripts/protoc; never edit by hand."""\n'

# `import customs_pb2 as customs__pb2` (in .py) and `import hub_evidence_pb2 as _x` (in .pyi)
_SIBLING_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)

VERSION_LINE = re.compile(
    r"Protobuf Python Version|GRPC_GENERATED_VERSION = |_runtime_version\.ValidateProtobufRuntimeVersion"
    r"|^\s+_runtime_version\.Domain\.PUBLIC,$|^\s+\d+,$|^\s+'',$|^\s+'[\w.]+\.proto'$"
)
"""Lines that name the generator's version (the staleness test compares everything else)."""


def proto_files(proto_dir: Path = PROTO_DIR) -> list[Path]:
    return sorted(proto_dir.glob("*.proto"))


def _fix_imports(text: str, siblings: set[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        module, alias = match.group(1), match.group(2)
        if module not in siblings:
            return match.group(0)
        return f"from {GENERATED_PACKAGE} import {module} as {alias}"

    return _SIBLING_IMPORT.sub(replace, text)


def generate(out_dir: Path, proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Write the message modules, their .pyi stubs and the service modules into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    protos = proto_files(proto_dir)
    if not protos:
        raise FileNotFoundError(f"no .proto files in {proto_dir}")
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
    siblings = {f"{p.stem}_pb2" for p in protos}
    written = []
    for path in sorted(out_dir.glob("*_pb2*.py*")):
        path.write_text(_fix_imports(path.read_text("utf-8"), siblings), "utf-8")
        written.append(path)
    (out_dir / "__init__.py").write_text(HEADER, "utf-8")
    return [*written, out_dir / "__init__.py"]


def comparable(text: str) -> list[str]:
    """A generated file's lines without those that name the generator's version."""
    return [line for line in text.splitlines() if not VERSION_LINE.search(line)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cbamhub.rpc.codegen OUT_DIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    for stale in out.glob("*_pb2*.py*"):
        stale.unlink()
    for path in generate(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
