"""The seed split reproduces scikit-learn's train_test_split(test_size=0.2, random_state=1), and
grouped splits keep groups together."""

from pathlib import Path

from gunwatch.training.data.dataset import Sample
from gunwatch.training.data.split import group_ids, grouped_seed_split, seed_split

# train_test_split(list(range(23)), test_size=0.2, random_state=1) with scikit-learn 1.9.1
SKLEARN_23_TRAIN = [16, 10, 4, 2, 18, 6, 7, 1, 14, 0, 15, 22, 21, 9, 8, 12, 11, 5]
SKLEARN_23_TEST = [20, 17, 3, 13, 19]


def test_seed_split_matches_scikit_learn():
    assert seed_split(23) == (SKLEARN_23_TRAIN, SKLEARN_23_TEST)


def test_seed_split_sizes():
    train, test = seed_split(2971)
    assert len(test) == 595 and len(train) == 2376 and not set(train) & set(test)


def samples(*names):
    return [Sample(Path(n)) for n in names]


def test_pattern_groups_and_near_duplicates():
    s = samples("armas--1-_jpg.rf.a.jpg", "armas--1-_jpg.rf.b.jpg", "armas--2-_jpg.rf.c.jpg",
                "armas--3-_jpg.rf.d.jpg")
    groups = group_ids(s, pattern=r"^(armas--\d+-)", pairs=[("armas--2-_jpg.rf.c.jpg", "armas--3-_jpg.rf.d.jpg")])
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[0] != groups[2]


def test_grouped_split_never_straddles():
    s = samples(*[f"src{i // 3}_copy{i % 3}.jpg" for i in range(60)])
    groups = group_ids(s, pattern=r"^(src\d+)_")
    train, test = grouped_seed_split(groups)
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in test})
    assert len(test) == 12 and len(train) == 48  # ceil(0.2 * 20 groups) = 4 groups of 3
