"""Write a copy of _config.yml with another notebook-execution mode (used by `make book-check`)."""

import argparse
from pathlib import Path

import yaml

parser = argparse.ArgumentParser()
parser.add_argument("--execute", default="off", choices=["off", "force", "cache", "auto"])
parser.add_argument("--out", required=True)
args = parser.parse_args()
root = Path(__file__).resolve().parent.parent
config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
config.setdefault("execute", {})["execute_notebooks"] = args.execute
# local extensions are found relative to the config file: point them at the repository's folders
local = config.get("sphinx", {}).get("local_extensions") or {}
for name, folder in local.items():
    local[name] = str((root / folder).resolve())
out = Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
print(f"wrote {out} (execute_notebooks={args.execute})")
