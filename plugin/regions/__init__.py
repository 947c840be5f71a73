"""The region stage: where in a frame the gun model looks (whole frame, persons, motion, tiles)."""
