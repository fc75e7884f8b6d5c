from zoo.sdk.common import check_state  # noqa: F401
from zoo.sdk.keras_base import *  # noqa: F401,F403  (moved to zoo.sdk.keras_base)
