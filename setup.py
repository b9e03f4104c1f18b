"""Build customizations; metadata lives in pyproject.toml.

The one compiled part: optional kernels, the fused optimizer step and the window, pooling and ReLU
passes of the image layers. A failed build (no C compiler, say) does not fail the install: those then
run their NumPy path, which computes the same values. ``-fno-trapping-math`` lets the compiler turn
the comparisons in pooling and ReLU into branch-free vector selects; like ``-ffp-contract=off``, it
changes no result.

The Hydra configs, ``conf/`` and ``experiments/`` at the top of the repository, are copied
into the built package as ``framework/command/configs/`` (where ``framework/command/paths.py``
looks first), so a wheel carries them. The source tree keeps the only copy.
"""

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

UNIX_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-std=c11"]
MSVC_FLAGS = ["/O2", "/fp:precise"]

ROOT = Path(__file__).resolve().parent
CONFIG_DIRS = ["conf", "experiments"]
PACKAGED_CONFIGS = Path("framework", "command", "configs")


class BuildWithPortableFlags(build_ext):
    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for extension in self.extensions:
            extension.extra_compile_args = flags
        super().build_extensions()


class BuildWithConfigs(build_py):
    def run(self):
        super().run()
        for name in CONFIG_DIRS:
            source, target = ROOT / name, Path(self.build_lib, PACKAGED_CONFIGS, name)
            if not source.is_dir():
                raise FileError(f"cannot ship the configs: {source} is missing (an sdist built without MANIFEST.in?)")
            shutil.rmtree(target, ignore_errors=True)  # no file left over from an earlier build
            for path in sorted(source.rglob("*.yaml")):
                destination = target / path.relative_to(source)
                self.mkpath(str(destination.parent))
                self.copy_file(str(path), str(destination))


setup(
    ext_modules=[
        Extension(
            "framework.core._kernels",
            [
                f"framework/core/{name}.c"
                for name in ("_kernels", "_window_kernels", "_winograd_kernels", "_winograd4_kernels", "_pool_kernels")
            ],
            depends=["framework/core/_kernels.h"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildWithPortableFlags, "build_py": BuildWithConfigs},
)
