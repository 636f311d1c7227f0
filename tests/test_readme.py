"""The README's quick start runs as written and scores above zero; CI runs its test command."""

import re
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_quick_start_runs_and_learns(capsys):
    code = re.search(r"## Quick start\s+```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README quick start", "exec"), namespace)
    scores = namespace["scores"]["test_score"]
    assert len(scores) == 4
    assert scores.mean() > 0.1  # ridge on simulated data learns; chance is ~0
    assert "(560, 30, 1000) (560, 14)" in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    command = re.search(
        r"\*\*Run the test suite:\*\*\s+```bash\n(.*?)\n```", README.read_text(), re.S
    ).group(1)
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
