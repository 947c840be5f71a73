"""The trainer CLI end to end on a few images, its checkpoint/resume, and the lr schedule."""
from __future__ import annotations

import json

import cv2
import pytest

from tests.conftest import REPO, need_torch

torch = need_torch()

from gunwatch.training.pytorch.torch_train import learning_rate, main  # noqa: E402

from ._paths import need_coco, pistol_images  # noqa: E402


def test_darknet_schedule():
    assert learning_rate(0, 0.001, 100, [800, 900], [0.1, 0.1]) == 0
    assert learning_rate(50, 0.001, 100, [800, 900], [0.1, 0.1]) == pytest.approx(0.001 * 0.5 ** 4)
    assert learning_rate(100, 0.001, 100, [800, 900], [0.1, 0.1]) == 0.001
    assert learning_rate(800, 0.001, 100, [800, 900], [0.1, 0.1]) == pytest.approx(1e-4)
    assert learning_rate(950, 0.001, 100, [800, 900], [0.1, 0.1]) == pytest.approx(1e-5)


def _list_file(path, split: str, n: int):
    path.write_text("".join(f"{p}\n" for p in pistol_images(split, n)))
    return path


def _tiny_run_args(train, valid, out) -> list[str]:
    """A 1-class yolov3-tiny from COCO on 128-px pictures, batch 2: seconds per iteration."""
    cfg, weights = need_coco()
    return ["--cfg", str(cfg), "--classes", "1", "--weights", str(weights), "--train", str(train),
            "--valid", str(valid), "--out", str(out), "--batch", "2", "--img-size", "128",
            "--eval-every", "2", "--threads", "1"]


def test_train_resume_and_export(tmp_path, capsys):
    out = tmp_path / "run"
    common = _tiny_run_args(_list_file(tmp_path / "train.txt", "train", 3),
                            _list_file(tmp_path / "valid.txt", "valid", 2), out) + [
        "--micro-batch", "1", "--burn-in", "1", "--print-every", "1"]
    assert main(common + ["--iterations", "2"]) == 0
    assert (out / "last.weights").exists() and (out / "best.weights").exists()
    assert main(common + ["--iterations", "3", "--resume", "--no-freeze"]) == 0
    printed = capsys.readouterr().out
    assert "resumed at iteration 2" in printed and "it 3/3 loss" in printed and "s/it ETA" in printed
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == "iteration,loss,avg_loss" and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    assert len((out / "map.csv").read_text().splitlines()) == 3  # header + evals at 2 and 3
    best = json.loads((out / "best.json").read_text())
    assert 0 <= best["map"] <= 1
    model_cfg = (out / "model.cfg").read_text()
    assert "batch=1\n" in model_cfg and "classes=1\n" in model_cfg and "filters=18\n" in model_cfg
    net = cv2.dnn.readNetFromDarknet(str(out / "model.cfg"), str(out / "final.weights"))
    img = cv2.imread(str(pistol_images("valid", 1)[0]))
    net.setInput(cv2.dnn.blobFromImage(img, 1 / 255.0, (416, 416), swapRB=True))
    outs = net.forward(net.getUnconnectedOutLayersNames())
    assert [o.shape for o in outs] == [(507, 6), (2028, 6)]

    # the run folder becomes a model bundle
    from gunwatch.training.runs.bundle import main as bundle_main
    dest = tmp_path / "bundle"
    assert bundle_main(["--run", str(out), "--out", str(dest), "--name", "tiny-test",
                        "--classes", "gun", "--provenance", '{"iterations": 3}']) == 0
    card = json.loads((dest / "model.json").read_text())
    assert card["input"] == {"width": 416, "height": 416, "letterbox": True}
    assert card["classes"] == ["gun"] and card["provenance"]["iterations"] == 3
    assert card["metrics"]["valid_map50"] == round(best["map"], 4)
    assert (dest / "names").read_text() == "gun\n"
    assert (dest / "model.weights").read_bytes() == (out / "best.weights").read_bytes()
    assert cv2.imread(str(dest / "training" / "loss.png")) is not None


def test_eval_first_scores_the_starting_weights(tmp_path):
    """A run that continues a model records where it started, and keeps it if training makes it worse."""
    bundle = REPO / "models" / "gun-yolov3-tiny"
    out = tmp_path / "run"
    args = ["--cfg", str(bundle / "model.cfg"), "--weights", str(bundle / "model.weights"),
            "--train", str(_list_file(tmp_path / "train.txt", "train", 2)),
            "--valid", str(_list_file(tmp_path / "valid.txt", "valid", 6)), "--out", str(out),
            "--batch", "2", "--img-size", "128", "--threads", "1", "--no-freeze", "--iterations", "1",
            "--eval-every", "1", "--burn-in", "0", "--lr", "5"]  # a rate that wrecks the model
    assert main(args + ["--eval-first"]) == 0
    rows = [r.split(",") for r in (out / "map.csv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == ["0", "1"]
    start_map, after_map = float(rows[0][1]), float(rows[1][1])
    assert start_map > 0.5 > after_map  # the shipped gun model finds these guns; one wild batch does not
    assert json.loads((out / "best.json").read_text())["iteration"] == 0


def test_ema_run_saves_the_average_and_resumes_it(tmp_path, capsys):
    train = _list_file(tmp_path / "train.txt", "train", 2)
    out = tmp_path / "run"
    common = _tiny_run_args(train, train, out) + [
        "--micro-batch", "2", "--burn-in", "0", "--lr", "0.01", "--no-freeze"]
    assert main(common + ["--iterations", "2"]) == 0  # no --ema: last.pt holds no average
    with pytest.raises(SystemExit, match="without --ema"):
        main(common + ["--iterations", "3", "--resume", "--ema", "0.5"])

    out = tmp_path / "run-ema"
    common[common.index("--out") + 1] = str(out)
    assert main(common + ["--iterations", "2", "--ema", "0.5"]) == 0
    assert torch.load(out / "last.pt", weights_only=False)["ema"]["steps"] == 2
    assert main(common + ["--iterations", "3", "--ema", "0.5", "--resume"]) == 0
    assert "weight average (EMA decay 0.5)" in capsys.readouterr().out
    # final.weights is the average, last.weights the trained weights the next resume starts from
    assert (out / "final.weights").read_bytes() != (out / "last.weights").read_bytes()
    assert torch.load(out / "last.pt", weights_only=False)["ema"]["steps"] == 3


def test_sigterm_ends_the_run_with_a_checkpoint_that_resumes(tmp_path):
    """What `gunwatch train run` sends on Ctrl-C: the trainer saves the iteration it finished."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "run"
    train = _list_file(tmp_path / "train.txt", "train", 2)
    argv = [sys.executable, "-u", "-m", "gunwatch.training.pytorch.torch_train"] + _tiny_run_args(train, train, out) + [
        "--micro-batch", "2", "--no-freeze", "--iterations", "1000", "--print-every", "1",
        "--eval-every", "1000", "--checkpoint-minutes", "60"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed = []
    for line in proc.stdout:
        printed.append(line)
        if line.startswith("it 2/1000"):
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130, "".join(printed)
    last = next(ln for ln in printed if ln.startswith("interrupted at iteration"))
    stopped_at = int(last.split()[3].rstrip(":"))
    assert stopped_at >= 2
    assert torch.load(out / "last.pt", weights_only=False)["iteration"] == stopped_at
    rows = (out / "loss.csv").read_text().splitlines()[1:]
    assert int(rows[-1].split(",")[0]) == stopped_at
    resume = argv[4:]
    resume[resume.index("--iterations") + 1] = str(stopped_at + 1)
    assert main(resume + ["--resume"]) == 0
    assert (out / "final.weights").exists()


def test_batches_follow_from_the_iteration_alone():
    from gunwatch.training.pytorch.torch_train import batch_plan

    plans = [batch_plan(5, 3, 7, it) for it in range(4)]
    picks = [p for indices, _ in plans for p in indices]
    assert sorted(picks[:5]) == sorted(picks[5:10]) == list(range(5))  # whole epochs, reshuffled
    assert picks[:5] != picks[5:10]
    again, rng = batch_plan(5, 3, 7, 2)
    assert again == plans[2][0] and rng.random() == plans[2][1].random()
    assert batch_plan(5, 3, 8, 2)[0] != plans[2][0] or batch_plan(5, 3, 8, 3)[0] != plans[3][0]


def test_an_interrupted_run_resumes_into_the_same_weights(tmp_path):
    """Stopped after its first batch and resumed in a new call, a run with zoom-out, mosaic,
    multi-scale and a moving average ends on the very weights of a run that was never stopped."""
    train = _list_file(tmp_path / "train.txt", "train", 6)
    valid = _list_file(tmp_path / "valid.txt", "valid", 2)

    def args(out):
        return _tiny_run_args(train, valid, out) + [
            "--micro-batch", "1", "--burn-in", "1", "--lr", "0.01", "--iterations", "3",
            "--unfreeze-at", "2", "--multi-scale", "96", "--ema", "0.9", "--zoom-out", "0.5",
            "--mosaic", "0.3", "--eval-every", "100"]

    assert main(args(tmp_path / "straight")) == 0
    assert main(args(tmp_path / "resumed") + ["--max-minutes", "0.0001"]) == 0  # stops after batch 1
    assert torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)["iteration"] == 1
    assert main(args(tmp_path / "resumed") + ["--resume"]) == 0
    for name in ("last.weights", "final.weights"):
        assert (tmp_path / "straight" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()
    assert (tmp_path / "straight" / "loss.csv").read_text() == (tmp_path / "resumed" / "loss.csv").read_text()


def test_bf16_trains_the_same_batch_close_to_float32(tmp_path, monkeypatch):
    from gunwatch.training.pytorch import torch_train
    monkeypatch.setattr(torch_train, "bf16_is_native", lambda _torch: True)  # emulated here or not
    train = _list_file(tmp_path / "train.txt", "train", 2)
    losses, weights = {}, {}
    for kind, extra in (("fp32", []), ("bf16", ["--bf16"])):
        out = tmp_path / kind
        assert main(_tiny_run_args(train, train, out) + [
            "--micro-batch", "2", "--burn-in", "0", "--lr", "0.001", "--iterations", "1"] + extra) == 0
        losses[kind] = float((out / "loss.csv").read_text().splitlines()[1].split(",")[1])
        weights[kind] = (out / "last.weights").read_bytes()
    assert weights["fp32"] != weights["bf16"]  # autocast did run the passes in bfloat16
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.02)


@pytest.mark.parametrize("native", [False, True])
def test_bf16_only_where_the_cpu_has_it(tmp_path, capsys, monkeypatch, native):
    """A run asked for --bf16 (or resumed with it on another machine) trains in float32 where the
    CPU would emulate bfloat16, and says so; where it is native, bf16 stays on."""
    from gunwatch.training.pytorch import torch_train
    monkeypatch.setattr(torch_train, "bf16_is_native", lambda _torch: native)
    train = _list_file(tmp_path / "train.txt", "train", 2)
    out = tmp_path / "run"
    assert main(_tiny_run_args(train, train, out) + ["--iterations", "1", "--burn-in", "0", "--bf16"]) == 0
    printed = capsys.readouterr().out
    assert ("training in float32" in printed) is not native
    assert json.loads((out / "args.json").read_text())["bf16"] is native
