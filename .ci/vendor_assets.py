"""Vendor the site's JavaScript (MathJax 3, mermaid 10, reveal.js 5 for the slides) into book/_static/vendor/ from the npm registry.

The built book must work with no network: from a USB stick, a classroom server, behind a firewall.
So the scripts that typeset formulas and draw diagrams are served from the site itself, never from a
CDN. This script fetches the two packages with the ordinary ``npm pack`` client (pinned versions),
checks their integrity against the hashes below, and unpacks only what the pages use, with each
package's licence beside it. It is idempotent: nothing is fetched when the files are already there.
``make book`` and ``make book-check`` run it first.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "book" / "_static" / "vendor"
CACHE = ROOT / "_build" / "vendor-cache"

# name, version, sha256 of the npm tarball, members to unpack (prefix match inside package/)
PACKAGES = [
    ("mathjax", "3.2.2", "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
     ["LICENSE", "es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/"]),
    ("mermaid", "10.9.1", "370ad9d7815e5fb54a059efce9be436740b74849b6fcdff21d1565379c6cd073", ["LICENSE", "dist/mermaid.min.js"]),
    # the chapter slide decks (.ci/slides.py): the player, its white theme with the theme's own font files
    ("reveal.js", "5.1.0", "524caf847e98033595943d994725dd357d20c7d07ad18afbaa932f1535e636e7",
     ["LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts/source-sans-pro/",
      "plugin/notes/notes.js"]),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(name: str, version: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{name}-{version}.tgz"
    if not tarball.is_file():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("vendor_assets: npm is needed once to fetch MathJax, mermaid and reveal.js for the offline site "
                     "(Debian: apt-get install npm).")
        subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(CACHE), "--silent"],
                       check=True, stdout=subprocess.DEVNULL)
    return tarball


def main() -> int:
    stamp = DEST / "VERSIONS"
    wanted = "".join(f"{n} {v}\n" for n, v, _, _ in PACKAGES)
    if stamp.is_file() and stamp.read_text() == wanted:
        return 0
    for name, version, digest, members in PACKAGES:
        tarball = fetch(name, version)
        if sha256(tarball) != digest:
            tarball.unlink()
            sys.exit(f"vendor_assets: {name}-{version}.tgz does not match its pinned SHA-256; removed, run again")
        target = DEST / name
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix("package/")
                if member.isfile() and any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in members):
                    member.name = rel
                    tar.extract(member, target, filter="data")
        missing = [m for m in members if not (target / m).exists()]
        if missing:
            sys.exit(f"vendor_assets: {name} {version} lacks {missing}")
    stamp.write_text(wanted)
    print(f"vendor_assets: {', '.join(f'{n} {v}' for n, v, _, _ in PACKAGES)} -> {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
