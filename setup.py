"""The one compiled part: optional fused optimizer kernels. Metadata lives in pyproject.toml.

A failed build (no C compiler, say) does not fail the install: the optimizers then
run their NumPy path, which computes the same values.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

UNIX_FLAGS = ["-O3", "-fno-math-errno", "-ffp-contract=off", "-std=c11"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildWithPortableFlags(build_ext):
    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for extension in self.extensions:
            extension.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[Extension("framework.core._kernels", ["framework/core/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildWithPortableFlags},
)
