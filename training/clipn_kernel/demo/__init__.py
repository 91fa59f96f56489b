"""The demo model: a synthetic image-caption world, a tiny CLIP pretrained on it, CLIPN-trained, exported."""
