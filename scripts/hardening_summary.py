"""Print the hardening_summary role's lines from an ansible-playbook log: one line per hardened item.

Usage: python scripts/hardening_summary.py LOG [PREFIX]   (PREFIX defaults to "  - ")
"""
import json
import sys
from pathlib import Path

text = Path(sys.argv[1]).read_text(encoding="utf-8", errors="replace")
prefix = sys.argv[2] if len(sys.argv) > 2 else "  - "
task = text.rfind("Summarise what is hardened")
start = text.find('"msg":', task) if task >= 0 else -1
if start >= 0:
    message = json.JSONDecoder().raw_decode(text[text.index(":", start) + 1:].lstrip())[0]
    for item in message if isinstance(message, list) else [message]:
        print(prefix + " ".join(str(item).split()))
