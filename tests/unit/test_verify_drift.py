"""How verify names a checked cell's drift: the lines that changed, each side in one line."""

import json

from runbook import verify
from tests.utils.paths import REPO


def checked_output(notebook) -> str:
    cell = next(c for c in json.loads(notebook.read_text())["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    return "".join(cell["outputs"][0]["text"])


def masked(text: str) -> str:
    for pattern, replace in verify.masks():
        text = pattern.sub(replace, text)
    return text


def test_a_changed_line_is_named_alone():
    now = checked_output(REPO / "notebooks" / "03-gpu-in-container.ipynb")
    assert verify.changed_lines(now, now.replace("by UUIDs: True", "by UUIDs: False")) == (
        "the container's GPUs are the host's, by UUIDs: True",
        "the container's GPUs are the host's, by UUIDs: False",
    )


def test_another_model_in_nvidia_smis_table_is_one_line_a_side_without_the_frame():
    """The H200's checked nvidia-smi table (records/h200-2026-11-28), its model changed: the row and the -L line."""
    before = masked(checked_output(REPO / "records" / "h200-2026-11-28" / "03-gpu-in-container.ipynb"))
    after = before.replace("NVIDIA H200          ", "NVIDIA H100 80GB HBM3").replace("H200 (", "H100 80GB HBM3 (")
    old, new = verify.changed_lines(before, after)
    assert old == "0 NVIDIA H200 On | BUS-ID Off | 0 | GPU 0: NVIDIA H200 (UUID: GPU-UUID)", old
    assert new == "0 NVIDIA H100 80GB HBM3 On | BUS-ID Off | 0 | GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-UUID)", new
    assert "\n" not in old + new


def test_no_line_on_one_side_says_so():
    assert verify.changed_lines("a\nb", "a") == ("b", "(nothing)")
