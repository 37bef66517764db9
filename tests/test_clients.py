"""The README's front-end snippets, type-checked against types generated from schema/.

GraphQL Code Generator and TypeScript come from tests/clients/ (npm ci from the committed
lockfile, which .ci/test runs). The snippets are cut out of README.md, so the README shows what
was checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CLIENTS = REPO / "tests" / "clients"
BIN = CLIENTS / "node_modules" / ".bin"
README = REPO / "README.md"

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM"],
        "noUnusedLocals": True,
        # The libraries' own declarations are theirs to check; ours and the generated code are not.
        "skipLibCheck": True,
    },
}


def readme_snippet(name: str) -> str:
    """The README's TypeScript block whose first line is ``// <name>``."""
    blocks = re.findall(r"```ts\n(// (\S+).*?)```", README.read_text(), re.S)
    found = [code for code, title in blocks if title == name]
    assert len(found) == 1, f"README.md needs exactly one ```ts block starting // {name}"
    return found[0]


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A scratch folder inside tests/clients/, so that imports find its node_modules."""
    if not (BIN / "tsc").exists():
        if os.environ.get("CI"):
            pytest.fail("tests/clients/node_modules is missing: .ci/test runs npm ci there")
        pytest.skip("needs npm: run `npm ci` in tests/clients (bash .ci/test does)")
    path = Path(tempfile.mkdtemp(prefix="tmp-", dir=CLIENTS))
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def generated(workdir: Path) -> str:
    """Run the README's codegen.ts over a copy of schema/; return the generated module's text."""
    # Laid out as the README's paths expect: schema/ next to the config, output under src/.
    shutil.copytree(REPO / "schema", workdir / "schema")
    (workdir / "codegen.ts").write_text(readme_snippet("codegen.ts"))

    result = run(BIN / "graphql-codegen", "--config", "codegen.ts", cwd=workdir)

    assert result.returncode == 0, result.stdout + result.stderr
    return (workdir / "src" / "gql" / "graphql.ts").read_text()


def type_check(workdir: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``tsc --noEmit --strict`` over the generated module and these files (in src/)."""
    for name, code in files.items():
        (workdir / "src" / name).write_text(code)
    tsconfig = {**TSCONFIG, "files": ["src/gql/graphql.ts", *(f"src/{name}" for name in files)]}
    (workdir / "tsconfig.json").write_text(json.dumps(tsconfig))
    return run(BIN / "tsc", "--noEmit", "--strict", "-p", "tsconfig.json", cwd=workdir)


def test_codegen_maps_the_custom_scalars_and_the_enum_to_precise_types(generated: str) -> None:
    assert "DateTime: { input: string; output: string; }" in generated
    assert (
        "JSONObject: { input: Record<string, unknown>; output: Record<string, unknown>; }"
        in generated
    )
    assert "export type MessageLevel =\n  | 'DEBUG'\n  | 'ERROR'\n  | 'INFO'\n  | 'SUCCESS'\n" in (
        generated
    )
    assert ": any" not in generated


def test_the_readme_snippets_for_apollo_and_urql_type_check_strictly(
    workdir: Path, generated: str
) -> None:
    result = type_check(
        workdir,
        {"apollo.ts": readme_snippet("apollo.ts"), "urql.ts": readme_snippet("urql.ts")},
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_rejects_a_client_that_misreads_the_contract(
    workdir: Path, generated: str
) -> None:
    misread = (
        'import type { AcknowledgeMessagesMutation, MyMessagesQuery } from "./gql/graphql";\n'
        'export const level: number = ({} as MyMessagesQuery["myMessages"][number]).levelName;\n'
        "export const count: string = "
        '({} as AcknowledgeMessagesMutation["acknowledgeMessages"]).pendingCount;\n'
    )

    result = type_check(workdir, {"misread.ts": misread})

    assert result.returncode != 0
    assert re.findall(r"src/misread\.ts\(\d+,\d+\): error (TS\d+)", result.stdout) == [
        "TS2322",
        "TS2322",
    ]
