"""The README's screenshots (issue 23): every page the script photographs is linked from
the README, and every linked image exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_screenshot_is_made_by_the_script_and_linked_from_the_readme() -> None:
    spec = importlib.util.spec_from_file_location("screenshots",
                                                  ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = {f"docs/screenshots/{name}.png" for name, *_ in module.SHOTS}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\((docs/screenshots/[^)]+\.png)\)", readme))
    assert linked == made
    for path in linked:
        assert (ROOT / path).stat().st_size > 10_000, path
