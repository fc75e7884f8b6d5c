"""spandrel (chaiNNer's model loader) as a bridge: community denoisers from OpenModelDB in the zoo.

``zoo denoise --model spandrel --weights FILE|hf://...`` runs any 1x RGB restoration network
spandrel recognises; ``--model scunet`` (nafnet, drunet, ...) accepts that architecture only.
Each is listed with its code's licence; the restrictive-licence ones (Restormer, MPRNet, MIRNet2,
M3SNet) run only where the user installed ``spandrel_extra_arches``. Nothing here imports spandrel
or torch: the backend does, on first use (``pip install 'denoise-zoo[spandrel]'``).
"""

from plugins.spandrel.arches import ANY, ARCHES, EXTRA_PACKAGE, Bridged
from plugins.spandrel.config import CONFIGS
from zoo import Architecture, hookimpl

BACKEND = {"torch": "plugins.spandrel.torch_backend:build"}
READER = "plugins.spandrel.torch_backend:read_weights"
INSTALL = "denoise-zoo[spandrel]"


def _architecture(bridged: Bridged) -> Architecture:
    extra = f"; needs {EXTRA_PACKAGE}, which you install yourself" if bridged.extra else ""
    return Architecture(
        name=bridged.name,
        aliases=bridged.aliases,
        description=f"{bridged.arch_id} through spandrel, your weights (code: {bridged.license}{extra})",
        paper=bridged.paper,
        config=CONFIGS[bridged.name],
        backends=BACKEND,
        requires=("spandrel", EXTRA_PACKAGE) if bridged.extra else ("spandrel",),
        install=EXTRA_PACKAGE if bridged.extra else INSTALL,
        license=bridged.license,
        weights_reader=READER,
    )


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name=ANY,
            description="any 1x denoising network spandrel recognises in your weights (OpenModelDB); "
            "its code's licence is that network's (zoo list names them)",
            paper="spandrel, chaiNNer's model loader: github.com/chaiNNer-org/spandrel",
            config=CONFIGS[ANY],
            backends=BACKEND,
            requires=("spandrel",),
            install=INSTALL,
            weights_reader=READER,
        )
    )
    for bridged in ARCHES:
        register(_architecture(bridged))
