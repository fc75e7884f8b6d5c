from zoo.sdk.common import *  # noqa: F401,F403  (moved to zoo.sdk.common)
