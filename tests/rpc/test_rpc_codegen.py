"""The committed gRPC code is exactly what scripts/protoc makes from proto/ (a stale copy fails),
each proto's modules in their component's package: anomaly.proto's in cbamhub.anomaly.generated,
the others' in cbamhub.rpc.generated (decision 0084)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cbamhub.rpc import codegen

REPO = Path(__file__).resolve().parents[2]


def _committed(root: Path) -> dict[str, Path]:
    return {
        f"{target.folder}/{p.name}": p
        for target in codegen.TARGETS
        for p in (root / target.folder).glob("*.py*")
        if p.is_file()
    }


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    written = codegen.generate(tmp_path)
    fresh = _committed(tmp_path)
    assert sorted(fresh) == sorted(str(p.relative_to(tmp_path)) for p in written)
    committed = _committed(REPO)
    assert sorted(fresh) == sorted(committed), "run scripts/protoc: the generated files differ"
    for name, path in fresh.items():
        assert codegen.comparable(path.read_text()) == codegen.comparable(
            committed[name].read_text()
        ), f"{name} is stale: run scripts/protoc"


def test_each_proto_is_generated_into_its_components_package(tmp_path: Path) -> None:
    codegen.generate(tmp_path)
    assert sorted(p.name for p in (tmp_path / "anomaly" / "generated").iterdir()) == [
        "__init__.py", "anomaly_pb2.py", "anomaly_pb2.pyi", "anomaly_pb2_grpc.py",
    ]  # fmt: skip
    assert not list((tmp_path / "grpc" / "rpc" / "generated").glob("anomaly_*"))
    service = (tmp_path / "anomaly" / "generated" / "anomaly_pb2_grpc.py").read_text()
    assert "from cbamhub.anomaly.generated import anomaly_pb2 as" in service


def test_a_changed_proto_is_detected(tmp_path: Path) -> None:
    protos = tmp_path / "proto"
    protos.mkdir()
    for source in codegen.proto_files():
        text = source.read_text()
        if source.name == "customs.proto":
            text = text.replace("string record_id = 9;", "string record_id = 9;\n  string x = 10;")
        if source.name == "anomaly.proto":
            text = text.replace("string cn_code = 5;", "string cn_code = 5;\n  string x = 99;")
        (protos / source.name).write_text(text)
    out = {p.name: p for p in codegen.generate(tmp_path / "out", protos)}
    for name, folder in (("customs_pb2.py", codegen.RPC), ("anomaly_pb2.py", codegen.ANOMALY)):
        assert codegen.comparable(out[name].read_text()) != codegen.comparable(
            (REPO / folder.folder / name).read_text()
        ), name


def test_regenerating_in_place_removes_modules_of_a_removed_proto(tmp_path: Path) -> None:
    stale = tmp_path / codegen.RPC.folder / "gone_pb2.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    assert codegen.main([str(tmp_path)]) == 0
    assert not stale.exists()
    assert (tmp_path / codegen.ANOMALY.folder / "anomaly_pb2_grpc.py").is_file()


def test_generated_imports_resolve_in_the_installed_package() -> None:
    for target in codegen.TARGETS:
        for path in (REPO / target.folder).glob("*.py"):
            text = path.read_text()
            assert "\nimport customs_pb2" not in text and "\nimport hub_evidence_pb2" not in text
            assert "\nimport anomaly_pb2" not in text
    result = subprocess.run(
        [sys.executable, "-c",
         "from cbamhub.rpc.generated import customs_pb2_grpc, registry_pb2_grpc, external_pb2_grpc\n"
         "from cbamhub.anomaly.generated import anomaly_pb2_grpc"],
        cwd="/", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_grpc_folder_is_still_not_a_package() -> None:
    assert not (REPO / "grpc" / "__init__.py").exists()
