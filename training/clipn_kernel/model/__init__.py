"""The CLIPN model and its configs."""

from .clipn import CLIPN, NUM_NO_PROMPTS
from .config import ConfigError, ModelConfig, TextConfig, VisionConfig, load_model_config, parse_model_config

__all__ = ["CLIPN", "NUM_NO_PROMPTS", "ConfigError", "ModelConfig", "TextConfig", "VisionConfig", "load_model_config", "parse_model_config"]
