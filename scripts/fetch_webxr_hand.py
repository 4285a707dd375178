"""Fetch the WebXR generic hand meshes with ``npm pack`` and check them against their SHA-256.

Usage::

    python scripts/fetch_webxr_hand.py           # re-fetch, verify, copy into the package
    python scripts/fetch_webxr_hand.py --check   # re-fetch, verify, compare with the shipped files

Exit status 0 when every file matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@webxr-input-profiles/assets@1.0.20"
TARBALL_SHA256 = "30df2a2268220fc0d0e034bed1550aabdd7a2500573c5216f64fc70d59c3d91e"
FILES = {
    "right.glb": "291790c14f7f88a7f9bd35330c47392ed8e8d395ae6728f4bb7089f1bc1f2b96",
    "left.glb": "bc67783144944ea1cda54d9247885825ea5fb9d4651469fe7d00be517a5c2b87",
}
MEMBER = "package/dist/profiles/generic-hand/{}"
DEST = Path(__file__).resolve().parents[1] / "src" / "handpose" / "synth" / "assets" / "webxr_generic_hand"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(workdir: Path) -> dict[str, bytes]:
    """The two .glb files from a fresh ``npm pack`` of the pinned package version."""
    subprocess.run(["npm", "pack", PACKAGE], cwd=workdir, check=True, capture_output=True)
    tarballs = list(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise SystemExit(f"npm pack produced {len(tarballs)} tarballs in {workdir}")
    if sha256(tarballs[0].read_bytes()) != TARBALL_SHA256:
        raise SystemExit(f"{tarballs[0].name}: SHA-256 differs from the recorded one")
    out = {}
    with tarfile.open(tarballs[0]) as tar:
        for name in FILES:
            member = tar.extractfile(MEMBER.format(name))
            if member is None:
                raise SystemExit(f"{tarballs[0].name}: {MEMBER.format(name)} is missing")
            out[name] = member.read()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped files instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = fetch(Path(tmp))
    ok = True
    for name, expected in FILES.items():
        digest = sha256(files[name])
        fetched_ok = digest == expected
        shipped = DEST / name
        shipped_ok = shipped.is_file() and sha256(shipped.read_bytes()) == expected
        print(
            f"{name}: fetched {'ok' if fetched_ok else 'MISMATCH ' + digest}, shipped {'ok' if shipped_ok else 'differs'}"
        )
        ok &= fetched_ok
        if fetched_ok and not args.check and not shipped_ok:
            partial = shipped.with_suffix(".glb.tmp")
            partial.write_bytes(files[name])
            shutil.move(partial, shipped)
        ok &= shipped_ok or not args.check
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
