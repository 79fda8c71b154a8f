"""The execution environment the tests run scheduled jobs in: the lab's (atlas_lab.core.execution_environment),
re-exported for the integration suites."""

from atlas_lab.core.execution_environment import (  # noqa: F401 - re-exported
    IMAGE_COLLECTIONS,
    REPO,
    ScratchEnvironment,
    build_scratch_environment,
    image_python,
)
