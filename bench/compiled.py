"""A copy of turnout's source with its modules compiled by Cython: what compiling would buy.

The experiment behind "compile the hot modules" (bench/README.md, "Night of 2026-11-30"): every
module of the package (or the ones named) is compiled, unchanged and unannotated, by Cython into
an extension module beside its source in a copy of the tree, which ``instructions.py --build`` and
``hotpath.py --build`` then measure against the plain source:

    pip install cython
    python bench/compiled.py /tmp/turnout-cy                          # every module (about 25 min on 2 cores)
    python bench/compiled.py /tmp/turnout-cy core/gateway.py api/request.py
    python bench/instructions.py --build plain=src --build compiled=/tmp/turnout-cy

An extension module is imported before the ``.py`` beside it, so the copy runs the compiled code;
the project itself ships none (a contributor's edit would silently not take effect). The modules
whose functions Starlette calls as endpoints are left out by default: a compiled ``async def`` is
not a coroutine function to ``inspect``, so Starlette would call it as an ASGI app (a 500 on
``/api/v1/models``). The inference routes are served by the app's own front and compile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
# Modules with Starlette endpoints (app.py's routes, the web UI, the probes): not compiled by default.
STARLETTE_ENDPOINTS = {"api/catalog.py", "api/account.py", "api/admin.py", "api/byok.py", "api/presets.py",
                       "api/openapi.py", "observe/probes.py", "web/routes.py", "app.py"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", type=Path, help="where the copy goes (replaced); pass it to --build")
    ap.add_argument("modules", nargs="*", help="paths under src/turnout to compile (default: all but __init__ and STARLETTE_ENDPOINTS)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    try:
        from Cython.Build import cythonize
        from setuptools import setup
    except ImportError:
        raise SystemExit("needs Cython and setuptools: pip install cython") from None
    target = args.target.resolve()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SRC, target, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
    package = target / "turnout"
    if args.modules:
        files = [package / m for m in args.modules]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise SystemExit(f"no such module: {', '.join(missing)}")
    else:
        files = [f for f in package.rglob("*.py") if f.name not in ("__init__.py", "__main__.py")
                 and f.relative_to(package).as_posix() not in STARLETTE_ENDPOINTS]
    os.chdir(target)
    extensions = cythonize([str(f.relative_to(target)) for f in sorted(files)], nthreads=args.jobs, quiet=True,
                           compiler_directives={"language_level": 3, "binding": True})
    setup(ext_modules=extensions, script_args=["build_ext", "--inplace", "-j", str(args.jobs)])
    shutil.rmtree(target / "build", ignore_errors=True)
    built = sum(1 for _ in package.rglob("*.so"))
    print(f"{built} of {len(files)} modules compiled into {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
