"""The layout of STYLE.md: imports point one way, and benchmark tooling is no part of the product.

`lint-imports` checks the contracts in pyproject.toml ([tool.importlinter]) over the real code:
an import from identity to profiles or platforms, from profiles to platforms, from the shared API
plumbing to a domain app above identity, from identity's core to the plumbing (scope names
aside) or to its own API, or from the product to the URLconf, the demo, the benchmarks or the fake
WeChat server fails here.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_imports_point_one_way():
    done = lint_imports(ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_sees_an_import_that_points_back(tmp_path):
    # Given a contract the code breaks (profiles does import identity)
    config = tmp_path / "reversed.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["identity", "profiles"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "reversed"\ntype = "layers"\nlayers = ["identity", "profiles"]\n'
    )
    # When the same tool checks it, then it reports the import by name
    done = lint_imports(config)
    assert done.returncode != 0
    assert "profiles is not allowed to import identity" in done.stdout


def test_bench_is_not_an_installed_app_of_the_product():
    assert "bench" not in settings.INSTALLED_APPS
    assert not any(app.startswith("bench.") for app in settings.INSTALLED_APPS)


def test_every_wechat_module_lives_in_platforms():
    stray = [
        str(path.relative_to(ROOT))
        for app in ("identity", "profiles", "config")
        for path in (ROOT / app).rglob("*wechat*")
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    ]
    assert stray == []


def test_the_identity_core_contract_names_every_module_but_the_api():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    core = next(c for c in contracts["contracts"] if c["name"].startswith("Identity's core"))
    modules = {
        f"identity.{path.stem}"
        for path in (ROOT / "identity").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.stem not in {"__init__", "api", "apps", "migrations", "templates"}
    }
    assert modules == set(core["source_modules"])
