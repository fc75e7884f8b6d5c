"""Built-in plugins; each registers through the same entry-point group third parties use."""
