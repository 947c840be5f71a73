"""`rect` input (network shrunk to the frame's aspect) finds what the square letterbox finds."""

import cv2

from gunwatch.detectors.base import DetectorSettings, prepare_input
from gunwatch.detectors.select import create_detector
from gunwatch.model import InputSpec

from .test_backends_agree import match


def test_rect_and_square_letterbox_agree(coco_tiny, sample_photos, pistols_test_images):
    square_model = coco_tiny.model_copy(update={"meta": coco_tiny.meta.model_copy(
        update={"input": InputSpec(rect=False)})})
    settings = DetectorSettings(confidence=0.3)
    rect, square = create_detector("opencv", coco_tiny, settings), create_detector("opencv", square_model, settings)
    compared = 0
    for path in sample_photos + pistols_test_images[:4]:
        image = cv2.imread(str(path))
        # wide frames are what rect is for: pad the photo out to 16:9
        h, w = image.shape[:2]
        wide = cv2.copyMakeBorder(image, 0, 0, 0, max(0, int(h * 16 / 9) - w), cv2.BORDER_CONSTANT)
        pairs, only_rect, only_square = match(rect.detect(wide), square.detect(wide))
        for a, b, iou in pairs:
            assert iou >= 0.9 and abs(a.confidence - b.confidence) <= 0.05, f"{path.name}: {a} vs {b}"
        for leftover in only_rect + only_square:
            assert leftover.confidence < 0.35, f"{path.name}: unmatched {leftover}"
        compared += len(pairs)
    assert compared >= 10


def test_one_detector_alternating_shapes_matches_one_detector_per_shape(coco_tiny, sample_photos):
    """The region stage alternates a wide whole frame and square crops through one detector;
    each shape keeps its own network, and a shape pushed out of the cache comes back intact."""
    settings = DetectorSettings(confidence=0.3)
    shared = create_detector("opencv", coco_tiny, settings)
    image = cv2.imread(str(sample_photos[0]))
    h, w = image.shape[:2]
    wide = cv2.copyMakeBorder(image, 0, 0, 0, max(0, int(h * 16 / 9) - w), cv2.BORDER_CONSTANT)
    side = min(h, w)
    shapes = [wide, image[:side, :side], cv2.resize(image, (w // 3, h)), cv2.resize(image, (w, h // 3)),
              cv2.resize(image, (w // 2, h))]
    alone = [create_detector("opencv", coco_tiny, settings).detect(picture) for picture in shapes]
    assert len({prepare_input(p, coco_tiny.meta.input)[0].shape for p in shapes}) == 5
    for _ in range(2):  # five shapes through a cache of four: the second round rebuilds some
        for picture, expected in zip(shapes, alone):
            assert shared.detect(picture) == expected
    assert len(shared._nets) == shared.MAX_SHAPES
    assert alone[0] and alone[1], "the sample photo should show objects in both shapes"
