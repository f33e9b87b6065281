"""The `flow-graph` directive in real Sphinx builds of a tiny site."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from prefect_by_example.graphs import dot

IMAGE = re.compile(r"flowgraph-[0-9a-f]{40}\.(?:svg|png)")


@pytest.fixture
def tiny_site(tmp_path, rootdir, make_app):
    """A copy of roots/test-flowgraph, with files of its own already in images/.

    `tiny_site.build(**options)` builds it with Sphinx's test app and returns the warnings.
    """
    src = tmp_path / "site"
    shutil.copytree(rootdir / "test-flowgraph", src)
    (src / "images").mkdir()
    (src / "images" / "keep.txt").write_text("not ours")
    (src / "images" / "flowgraph-notes.svg").write_text("<svg/>")  # ours only by the name

    def build(**kwargs) -> str:
        app = make_app("html", srcdir=src, builddir=src.parent / "_build", **kwargs)
        app.build()
        return app.warning.getvalue()

    yield SimpleNamespace(src=src, build=build)
    sys.modules.pop("flowgraph_demo", None)


def html(site, page: str = "index") -> str:
    return (site.src.parent / "_build" / "html" / f"{page}.html").read_text()


def drawn(site) -> list[str]:
    return sorted(p.name for p in (site.src / "images").iterdir() if IMAGE.fullmatch(p.name))


def test_build_writes_images_once_and_links_them(tiny_site):
    warnings = tiny_site.build()
    images = drawn(tiny_site)
    assert sorted(Path(name).suffix for name in images) == [".png", ".svg"]
    svg = next(name for name in images if name.endswith(".svg"))
    png = next(name for name in images if name.endswith(".png"))
    page = html(tiny_site)
    assert f'<img alt="Task graph of the pipeline" src="_images/{svg}"' in page
    assert f'<img alt="Task graph of the pipeline flow" src="_images/{png}"' in page
    assert "The pipeline, drawn from its code." in page  # the caption
    assert 'href="#pipeline-graph"' in page  # :name: makes a target
    assert (tiny_site.src.parent / "_build" / "html" / "_images" / svg).exists()
    assert "double ×5" in (tiny_site.src / "images" / svg).read_text()  # :parameters: {"n": 5}
    assert "index.rst" not in warnings


def test_bad_targets_warn_with_the_page_and_line(tiny_site):
    warnings = tiny_site.build()
    found = [line for line in warnings.splitlines() if "flow-graph" in line]
    assert len(found) == 3, warnings
    assert re.search(
        r"bad\.rst:4: WARNING: flow-graph flowgraph_demo:no_such_flow: cannot import", found[0]
    )
    assert re.search(r"bad\.rst:6: .*is not a Prefect flow", found[1])
    assert re.search(r"bad\.rst:8: .*:parameters: must be a Python literal", found[2])
    assert "Traceback" not in warnings
    assert "<img" not in html(tiny_site, "bad")


def test_a_changed_flow_gets_a_new_image_and_the_old_one_goes(tiny_site):
    tiny_site.build()
    before = drawn(tiny_site)
    module = tiny_site.src / "flowgraph_demo.py"
    code = module.read_text().replace(
        "    return total(doubled)",
        "    result = total(doubled)\n    double(result)\n    return result",
    )
    module.write_text(code)
    later = time.time() + 5  # newer than the last read, also on coarse file systems
    os.utime(module, (later, later))

    tiny_site.build()
    after = drawn(tiny_site)
    assert len(after) == 2 and not set(before) & set(after)
    page = html(tiny_site)
    assert all(name in page for name in after) and not any(name in page for name in before)
    assert sorted(p.name for p in (tiny_site.src / "images").iterdir()) == sorted(
        [*after, "flowgraph-notes.svg", "keep.txt"]
    )


def test_images_no_page_uses_are_deleted(tiny_site):
    tiny_site.build()
    index = tiny_site.src / "index.rst"
    index.write_text(index.read_text().split(".. flow-graph::")[0])
    assert drawn(tiny_site)
    tiny_site.build()
    assert drawn(tiny_site) == []
    assert sorted(p.name for p in (tiny_site.src / "images").iterdir()) == [
        "flowgraph-notes.svg",
        "keep.txt",
    ]


def test_parallel_builds_merge_which_images_are_used(tiny_site):
    for n in range(6):
        (tiny_site.src / f"page{n}.rst").write_text(
            f":orphan:\n\nPage {n}\n=======\n\n.. flow-graph:: flowgraph_demo:pipeline\n"
            f'   :parameters: {{"n": {n + 10}}}\n'
        )
    tiny_site.build(parallel=2)
    assert len(drawn(tiny_site)) == 2 + 6
    for n in range(6):
        assert re.search(r'src="_images/flowgraph-[0-9a-f]{40}\.svg"', html(tiny_site, f"page{n}"))


def test_myst_pages_in_a_subfolder_use_the_same_directive(tiny_site):
    pytest.importorskip("myst_parser")
    (tiny_site.src / "guide").mkdir()
    (tiny_site.src / "guide" / "page.md").write_text(
        "---\norphan: true\n---\n# A MyST page\n\n"
        '```{flow-graph} flowgraph_demo:pipeline\n:parameters: {"n": 2}\n```\n'
    )
    tiny_site.build(
        confoverrides={"extensions": ["myst_parser", "prefect_by_example.sphinxext.flowgraph"]}
    )
    page = html(tiny_site, "guide/page")
    name = re.search(r'src="\.\./_images/(flowgraph-[0-9a-f]{40}\.svg)"', page).group(1)
    assert "double ×2" in (tiny_site.src / "images" / name).read_text()


def test_missing_dot_is_one_clear_warning(tiny_site, monkeypatch):
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    warnings = tiny_site.build()
    assert re.search(r"index\.rst:\d+: WARNING: .*Graphviz `dot` not found on PATH", warnings)
    assert drawn(tiny_site) == []
