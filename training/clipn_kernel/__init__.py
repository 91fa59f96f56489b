"""The PyTorch kernel of clipn-sidecar: CLIPN model, losses, ONNX bundle export, demo model."""

__version__ = "0.1.0"
