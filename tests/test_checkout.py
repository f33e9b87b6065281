"""copy_sources(): what Git would commit, and nothing it ignores."""

from __future__ import annotations

import subprocess

from devtools.checkout import copy_sources


def test_copies_tracked_and_new_files_but_not_ignored_ones(tmp_path):
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    (repo / ".gitignore").write_text("_build/\n")
    (repo / "docs" / "page.md").write_text("# tracked\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    (repo / "new.md").write_text("# not yet committed\n")
    (repo / "_build").mkdir()
    (repo / "_build" / "page.html").write_text("built\n")

    copy = copy_sources(repo, tmp_path / "copy")
    copied = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert copied == [".gitignore", "docs/page.md", "new.md"]
    assert (copy / "docs" / "page.md").read_text() == "# tracked\n"
