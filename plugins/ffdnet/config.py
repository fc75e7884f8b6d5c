from zoo import DenoiserConfig


class FFDNetConfig(DenoiserConfig):
    """FFDNet has nothing to configure: the shipped colour weights fix the network (12 layers, 96 maps)."""
