"""Print the README's set-up commands, as a newcomer copies them: ``quickstart`` or ``test``.

The commands are the fenced code blocks of the "## Set-up" section of
README.md; there must be exactly two one-line blocks, the first running
examples/quickstart.py, the second ending in ``pytest``.  CI runs what this
prints, so the README and CI cannot drift apart.

    python .ci/readme_commands.py quickstart   # pip install -e . && python examples/quickstart.py
    python .ci/readme_commands.py test         # pip install -e .[test] && pytest
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def setup_commands(text: str) -> dict[str, str]:
    section = re.search(r"^## Set-up\n(.*?)(?=^## )", text, flags=re.S | re.M)
    if section is None:
        raise SystemExit(f"{README}: no '## Set-up' section")
    blocks = [b.strip() for b in re.findall(r"^```[^\n]*\n(.*?)^```", section.group(1), flags=re.S | re.M)]
    if len(blocks) != 2 or any("\n" in b for b in blocks):
        raise SystemExit(f"{README}: '## Set-up' must hold exactly two one-line code blocks, found {blocks}")
    quickstart, test = blocks
    if "examples/quickstart.py" not in quickstart or not test.endswith("pytest"):
        raise SystemExit(f"{README}: expected the quickstart command, then the test command; got {blocks}")
    return {"quickstart": quickstart, "test": test}


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("quickstart", "test"):
        raise SystemExit("usage: python .ci/readme_commands.py quickstart|test")
    print(setup_commands(README.read_text(encoding="utf-8"))[sys.argv[1]])
