"""Accuracy figures: the one IoU, NMS, matching and AP rule, darknet's `detector map` report and
the PR chart."""
