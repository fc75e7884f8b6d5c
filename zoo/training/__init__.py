"""Training: the run's configuration (``config``), data and patches (``data``), the PyTorch loop
(``loop``), Keras fit (``keras_fit``) and the weights and model card a run writes (``card``)."""
