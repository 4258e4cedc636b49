"""How the docs tests read a page (tests/docblocks.py), and that every page they must run is run
and every block of it is one they can run or one marked as not run, with its reason."""

from __future__ import annotations

import pathlib

import pytest

from tests import docblocks
from tests.integration import test_docs

REPO = pathlib.Path(__file__).parents[2]
PAGE = """# A page

```yaml title="p.yaml"
kind: Project
```

- a step:

  ```console
  $ kubectl apply -f p.yaml
  project/p created
  $ kubectl get osproject p \\
      -o wide
  NAME   STATUS   AGE
  p      ACTIVE   9s
  ```

<!-- docs-test: skip needs a Docker engine -->
```sh
make image
```

```yaml
apiVersion: v1
kind: Namespace
metadata: {name: x}
```
"""


def test_blocks_are_read_in_order_with_what_the_tests_do() -> None:
    blocks = docblocks.blocks("page.md", PAGE)
    assert [(b.line, b.action) for b in blocks] == [
        (3, "file"), (9, "console"), (19, "skip"), (23, "apply"),
    ]  # fmt: skip
    assert (blocks[0].title, blocks[0].text) == ("p.yaml", "kind: Project")
    assert blocks[2].skip == "needs a Docker engine"
    assert blocks[1].commands() == [
        docblocks.Command("kubectl apply -f p.yaml", "project/p created"),
        docblocks.Command(
            "kubectl get osproject p \\\n    -o wide", "NAME   STATUS   AGE\np      ACTIVE   9s"
        ),
    ]


def test_a_titled_block_of_any_language_is_a_file() -> None:
    (block,) = docblocks.blocks("page.md", '```hcl title="main.tf"\nprovider "openstack" {}\n```\n')
    assert (block.action, block.title, block.text) == ("file", "main.tf", 'provider "openstack" {}')


def test_output_is_compared_without_ages_and_padding() -> None:
    shown = "NAME   STATUS   AGE\np      ACTIVE   9s\n"
    run = "NAME  STATUS  AGE\np     ACTIVE  2m13s"
    assert (
        docblocks.normalised(shown) == docblocks.normalised(run) == "NAME STATUS AGE\np ACTIVE AGE"
    )
    assert docblocks.normalised("p ACTIVE") != docblocks.normalised("p BUILD")


def test_a_console_block_is_rewritten_with_new_output_in_place() -> None:
    block = docblocks.blocks("page.md", PAGE)[1]
    new = docblocks.with_outputs(block, ["project/p configured\n", "NAME STATUS AGE\np BUILD 1s\n"])
    assert new == (
        "  ```console\n  $ kubectl apply -f p.yaml\n  project/p configured\n"
        "  $ kubectl get osproject p \\\n      -o wide\n  NAME STATUS AGE\n  p BUILD 1s\n  ```"
    )
    assert block.fence in PAGE


def test_an_unmarked_block_the_tests_cannot_run_is_an_error() -> None:
    (block,) = docblocks.blocks("page.md", "```yaml\nmembers: []\n```\n")
    with pytest.raises(docblocks.BlockError, match=r"page\.md:1: a ```yaml block"):
        assert block.action


def test_every_page_with_blocks_is_run_and_each_block_is_runnable_or_marked() -> None:
    scope = [REPO / "docs/tutorial/first-cloud.md", *sorted((REPO / "docs/how-to").glob("*.md"))]
    scope += [REPO / "docs" / f"{name}.md" for name in test_docs.SERVICE_PAGES]
    with_blocks = {
        str(p.relative_to(REPO / "docs")) for p in scope if docblocks.blocks(p.name, p.read_text())
    }
    assert with_blocks, "no page in scope has blocks"
    assert with_blocks - set(test_docs.NOT_YET) == set(test_docs.PAGES)
    for page in test_docs.PAGES:
        for block in docblocks.blocks(page, (REPO / "docs" / page).read_text()):
            assert block.action  # raises for a block neither runnable nor marked
