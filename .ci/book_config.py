"""Write a copy of _config.yml for another build: notebook execution mode, and the Chinese edition.

    python .ci/book_config.py --execute off --out _build/check_config.yml          (make book-check)
    python .ci/book_config.py --execute cache --language zh_CN --out _build/zh_config.yml   (make book)
    python .ci/book_config.py --execute off --gettext --out _build/gettext_config.yml      (make i18n)

``--language zh_CN`` builds the Chinese edition from the same sources: Sphinx replaces each message of the
English pages and notebooks by its translation in ``book/locale/zh_CN/LC_MESSAGES/<page>.po``, and the
notebooks' outputs come from the English build's execution cache (nothing runs twice).
``--gettext`` sets what the message extraction needs: one catalogue per page, no build ids.
"""

import argparse
from pathlib import Path

import yaml

parser = argparse.ArgumentParser()
parser.add_argument("--execute", default="off", choices=["off", "force", "cache", "auto"])
parser.add_argument("--language", default="en", choices=["en", "zh_CN"])
parser.add_argument("--gettext", action="store_true", help="settings for the message extraction")
parser.add_argument("--out", required=True)
args = parser.parse_args()
root = Path(__file__).resolve().parent.parent
config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
config.setdefault("execute", {})["execute_notebooks"] = args.execute
# local extensions are found relative to the config file: point them at the repository's folders
local = config.get("sphinx", {}).get("local_extensions") or {}
for name, folder in local.items():
    local[name] = str((root / folder).resolve())
sphinx = config.setdefault("sphinx", {}).setdefault("config", {})
sphinx["gettext_compact"] = False  # one catalogue per page: book/locale/zh_CN/LC_MESSAGES/<page>.po
if args.gettext:
    sphinx.update(gettext_uuid=False, gettext_location=True, gettext_auto_build=False)
if args.language != "en":
    sphinx["language"] = args.language
    sphinx["locale_dirs"] = [str(root / "book" / "locale")]
    config["title"] = "AIGC 从入门到实战 · AIGC from Zero to Practice"
    # the English build's execution cache: `make book` runs each notebook once for both editions
    config["execute"]["cache"] = str(root / "_build" / ".jupyter_cache")
out = Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
print(f"wrote {out} (execute_notebooks={args.execute}, language={args.language})")
