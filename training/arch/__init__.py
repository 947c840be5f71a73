"""Model architectures: darknet cfgs written and adapted, anchors fitted, weights arrays read
and written with numpy."""
