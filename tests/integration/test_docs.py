"""The docs run as written: every block of the tutorial, the how-tos and the service pages, in
order, on a local cloud started as a reader starts one (`make demo`), with the output each
page shows checked (tests/docblocks.py says how a block is read).

`NIMBUS_DOCS_REGENERATE=1` writes what the commands print into the pages' console blocks
instead of comparing: sample output comes from a run, never from a hand.

Two clouds: the tutorial's own, which its first block starts (`make demo`) and its last stops
(`make demo-down`), as on a newcomer's machine; and one for the other pages, which all begin
where `make demo` leaves a reader (the `demo` project and the examples). One cloud per page
would cost ~35 s each; the shared pages use names of their own and run in the order below,
node-labels.md (which relabels compute-1), helm.md (which installs the chart over the cloud's
own objects, then restarts the cloud) and devcloud.md (which stops it) last.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from nimbus.devcloud import build, cluster
from tests import docblocks

REPO = pathlib.Path(__file__).parents[2]
REGENERATE = os.environ.get("NIMBUS_DOCS_REGENERATE") == "1"
TUTORIAL = "tutorial/first-cloud.md"
# Every page whose blocks run, in the order they run.
PAGES = [
    TUTORIAL,
    "identity.md",
    "compute.md",
    "blockstorage.md",
    "openstack-api.md",
    "placement.md",
    "how-to/quotas.md",
    "how-to/openstack-cli.md",
    "how-to/terraform.md",
    "dashboard.md",
    "how-to/upgrading.md",
    "how-to/node-labels.md",
    "helm.md",
    "devcloud.md",
]
# The pages issue 22 asks to run besides the tutorial and the how-tos; those without blocks
# have nothing to run (tests/unit/test_docblocks.py holds PAGES to the ones with blocks).
SERVICE_PAGES = ["compute", "blockstorage", "image", "network", "identity", "orchestration",
                 "placement", "devcloud", "argocd", "helm", "openstack-api",
                 "dashboard"]  # fmt: skip
# Pages with blocks that are not run yet, and why.
NOT_YET: dict[str, str] = {}
# Blocks that fail because of a product bug, by page and a line of the block, with the bug:
# take an entry out once its bug is fixed (the page's test fails while an entry passes).
EXPECTED_FAILURES: dict[tuple[str, str], str] = {}
BLOCK_TIMEOUT = 600  # seconds; a wait in a page says its own, shorter timeout


@dataclasses.dataclass
class Reader:
    """A reader following one page: a scratch checkout to work in, pointed at one cloud."""

    workdir: pathlib.Path
    run_dir: pathlib.Path

    @property
    def env(self) -> dict[str, str]:
        """The tutorial's exports (the pinned kubectl, the cloud's kubeconfig), with the
        virtualenv active (`nimbus` on PATH) as docs/devcloud.md asks."""
        kubectl, venv = build.binary("kubectl").parent, pathlib.Path(sys.executable).parent
        return dict(
            os.environ,
            NIMBUS_DEVCLOUD_DIR=str(self.run_dir),
            KUBECONFIG=str(self.run_dir / "kubeconfig"),
            PATH=f"{kubectl}:{venv}:{os.environ['PATH']}",
        )

    def run(self, script: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run shell text as the reader's terminal would: stdout and stderr together."""
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script], cwd=self.workdir, env=self.env,
            input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=BLOCK_TIMEOUT,
        )  # fmt: skip

    def operator_log(self) -> str:
        log = self.run_dir / "logs" / "operator.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return "\n".join(lines[-40:])


def scratch_checkout(path: pathlib.Path) -> pathlib.Path:
    """A directory holding links to the repository's top-level entries: the commands find
    `make`, `examples/` and `.venv/` as in a checkout, and the files a page writes stay out of
    the tree."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in REPO.iterdir():
        if entry.name != ".git":
            (path / entry.name).symlink_to(entry)
    return path


@pytest.fixture(scope="module")
def demo_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """The cloud the pages but the tutorial share, started with `make demo`, stopped after the
    last of them."""
    run_dir = tmp_path_factory.mktemp("docs-cloud")
    reader = Reader(scratch_checkout(tmp_path_factory.mktemp("docs-demo")), run_dir)
    try:
        started = reader.run("make demo")
        assert started.returncode == 0, started.stdout[-4000:]
        yield run_dir
    finally:
        cluster.DevCloud(run_dir).destroy()


@pytest.fixture
def run_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pathlib.Path]:
    """The page's cloud: the tutorial's own (its blocks start and stop it), else the shared one."""
    if request.node.callspec.params["page"] != TUTORIAL:
        yield request.getfixturevalue("demo_cloud")
        return
    own = tmp_path_factory.mktemp("tutorial-cloud")
    try:
        yield own
    finally:
        cluster.DevCloud(own).destroy()


def expected_failure(block: docblocks.Block) -> str:
    page = block.page.removeprefix("docs/")
    return next((why for (p, line), why in EXPECTED_FAILURES.items()
                 if p == page and line in block.text), "")  # fmt: skip


def run_block(reader: Reader, block: docblocks.Block) -> tuple[str, str]:
    """Run one block; return what went wrong ("" if nothing) and, for a console block whose
    output differs, its text with the output printed."""
    action = block.action
    if action == "file":
        (reader.workdir / block.title).write_text(block.text + "\n")
    elif action == "apply":
        result = reader.run("kubectl apply -f -", stdin=block.text)
        if result.returncode != 0:
            return f"kubectl apply of the block failed:\n{result.stdout}", ""
    elif action == "script":
        result = reader.run(block.text)
        if result.returncode != 0:
            return f"exit {result.returncode}:\n{result.stdout[-6000:]}", ""
    elif action == "console":
        outputs, problems = [], []
        for command in block.commands():
            result = reader.run(command.command)
            outputs.append(result.stdout)
            shown, got = docblocks.normalised(command.output), docblocks.normalised(result.stdout)
            if shown != got:
                diff = "\n".join(difflib.unified_diff(
                    shown.splitlines(), got.splitlines(), "the page", "the run", lineterm=""
                ))  # fmt: skip
                problems.append(f"$ {command.command}\n(exit {result.returncode})\n{diff}")
        if problems:
            return "\n".join(problems), docblocks.with_outputs(block, outputs)
    return "", ""


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page: str, run_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = REPO / "docs" / page
    blocks = docblocks.blocks(f"docs/{page}", path.read_text())
    assert blocks, f"{page} has no blocks to run"
    reader = Reader(scratch_checkout(tmp_path / "checkout"), run_dir)
    rewrites: dict[str, str] = {}
    failed_as_expected: list[str] = []
    passing_now: list[str] = []
    for block in blocks:
        if block.action == "skip":
            continue
        problem, rewritten = run_block(reader, block)
        if rewritten and REGENERATE:
            rewrites[block.fence] = rewritten
            continue
        bug = expected_failure(block)
        if bug and problem:
            failed_as_expected.append(f"{block.where}: {bug}")
        elif bug:
            passing_now.append(f"{block.where} passes now: take it out of EXPECTED_FAILURES")
        elif problem:
            pytest.fail(
                f"{block.where}: {problem}\n--- the operator's log, last lines:\n"
                f"{reader.operator_log()}",
                pytrace=False,
            )
    if rewrites:
        regenerate(path, rewrites)
    assert not passing_now, "\n".join(passing_now)
    if failed_as_expected:
        pytest.xfail("; ".join(failed_as_expected))


def regenerate(path: pathlib.Path, rewrites: dict[str, str]) -> None:
    """Write the new console blocks into the page, each in place of exactly the text it was
    read from (others may be editing the page's other sections)."""
    text = path.read_text()
    for old, new in rewrites.items():
        assert text.count(old) == 1, f"{path}: a block changed while it ran:\n{old}"
        text = text.replace(old, new)
    path.write_text(text)
