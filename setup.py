"""Build the optional C kernels of the DBF reader; rmds falls back to numpy without them."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rmds._dbfparse",
            ["rmds/_native/dbfparse.c", "rmds/_native/blast.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
