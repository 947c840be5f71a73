"""Bundle helpers that need no torch: the loss chart without matplotlib."""
from __future__ import annotations

import cv2

from gunwatch.training.bundle import _plot_cv2, read_loss


def test_loss_chart_with_opencv_only(tmp_path):
    csv_path = tmp_path / "loss.csv"
    csv_path.write_text("iteration,loss,avg_loss\n" + "".join(
        f"{i},{30 / i:.3f},{32 / i:.3f}\n" for i in range(1, 51)))
    it, loss, avg = read_loss(csv_path)
    assert it[-1] == 50 and loss[0] == 30
    _plot_cv2(it, loss, avg, [(25, 0.4), (50, 0.6)], tmp_path / "loss.png")
    img = cv2.imread(str(tmp_path / "loss.png"))
    assert img.shape == (500, 900, 3) and (img < 250).any()
